"""New paper orders stored in batches: the placements a process's threads have computed
(`PaperExchange.placement`) go to one group-commit writer (config/group_commit.py), which stores
every queued one in ONE IMMEDIATE write transaction and answers each thread once it has committed.

A batch costs the same few statements whatever its size: one read of the taken client order ids,
one read of every balance the batch touches, one multi-row INSERT of the orders, one of the fills,
one UPDATE of every balance changed (and one INSERT of balances new to their users), each one's
text built and cached by config/prepared.py. Each placement is still decided alone, in the order
queued, against the balances as the ones before it left them
(inside the IMMEDIATE transaction nobody else writes, so read-check-write is exact): one refused
(insufficient balance, a client order id taken) writes nothing and leaves the others as they are,
as its own SAVEPOINT would, without a statement. `then(row)` runs per stored order inside the
transaction (the fill notification). Any other failure rolls the batch back and group_commit writes
its placements again one per transaction, so only the faulty one fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError

from config.group_commit import GroupCommit
from config.prepared import PreparedInsert, PreparedSelect, PreparedUpdate
from trading.exchange.errors import InsufficientBalance
from trading.exchange.paper import PaperOrder
from trading.exchange.types import Fill as FillValue
from trading.exchanges import as_stored, fill_row, paper_columns, paper_write_turn
from trading.models import Balance, Fill, Mode, Order


@dataclass(frozen=True)
class Placement:
    """One new paper order to store: what `PaperExchange.placement` computed for `user_id`."""

    user_id: int
    source: str
    order: PaperOrder
    fills: Sequence[FillValue]
    changes: Mapping[str, tuple[Decimal, Decimal]]  # asset -> (free change, locked change)
    then: Callable[[Order], None] | None = None


def paper_placement_store(placement: Placement) -> Order:
    """Stores `placement` (its Order row with its outcome, its fills and balance changes) and returns
    the row once the transaction holding it has committed. Raises InsufficientBalance when a balance
    would go negative and IntegrityError when the client order id is taken (a concurrent retry); both
    wrote nothing."""
    return _PLACEMENTS.submit(placement)


def placements_write(batch: Sequence[Placement]) -> list[Order | Exception]:
    """Stores each placement of `batch` that the balances allow, inside the caller's transaction:
    one outcome per placement, in order (the stored row, or the refusal of one that wrote nothing)."""
    taken = {found for (found,) in _TAKEN.rows([p.order.client_order_id for p in batch])}
    balances = _Balances(batch)
    outcomes: list[Order | Exception] = []
    stored: list[tuple[Placement, Order]] = []
    for placement in batch:
        client_id = placement.order.client_order_id
        if client_id in taken:
            outcomes.append(IntegrityError(f"UNIQUE constraint failed: client order id {client_id}"))
            continue
        try:
            balances.apply(placement)
        except InsufficientBalance as exc:
            outcomes.append(exc)
            continue
        taken.add(client_id)
        row = _order_row(placement)
        outcomes.append(row)
        stored.append((placement, row))
    rows = [row for _, row in stored]
    _ORDER_INSERT.insert_keyed(rows, key="client_order_id")
    _FILL_INSERT.insert_many([fill_row(row, fill) for p, row in stored for fill in p.fills])
    balances.write()
    for placement, row in stored:
        as_stored(row)
        if placement.then is not None:
            placement.then(row)
    return outcomes


_ORDER_INSERT = PreparedInsert(Order)
_FILL_INSERT = PreparedInsert(Fill)
_BALANCE_INSERT = PreparedInsert(Balance)
_BALANCE_UPDATE = PreparedUpdate(Balance, ["free", "locked", "updated"])
_BALANCES = PreparedSelect(
    Balance, ["id", "user", "asset", "free", "locked"], where=["mode"], where_in=["user", "asset"]
)
_TAKEN = PreparedSelect(Order, ["client_order_id"], where_in=["client_order_id"])
_PLACEMENTS: GroupCommit[Placement, Order] = GroupCommit(placements_write, turn=paper_write_turn)


def _order_row(placement: Placement) -> Order:
    return Order(
        user_id=placement.user_id, mode=Mode.PAPER, source=placement.source, **paper_columns(placement.order)
    )


class _Balances:
    """The paper balances a batch touches, read once, changed in memory placement by placement, and
    written once. Keys: (user id, asset); values: Balance rows, with no primary key for one new to its
    user."""

    def __init__(self, batch: Sequence[Placement]) -> None:
        users = sorted({p.user_id for p in batch})
        assets = sorted({asset for p in batch for asset in p.changes})
        self.rows = {
            (user_id, asset): _paper_balance(user_id, asset, free, locked, pk=pk)
            for pk, user_id, asset, free, locked in _BALANCES.rows(Mode.PAPER.value, users, assets)
        }
        self.changed: set[tuple[int, str]] = set()

    def apply(self, placement: Placement) -> None:
        """Applies every change of `placement`, or none and raises InsufficientBalance."""
        after = []
        for asset, (free, locked) in sorted(placement.changes.items()):
            key = (placement.user_id, asset)
            row = self.rows.get(key)
            if row is None:
                row = _paper_balance(placement.user_id, asset, Decimal(0), Decimal(0), pk=None)
            if row.free + free < 0 or row.locked + locked < 0:
                raise InsufficientBalance(
                    f"Not enough {asset}: {row.free.normalize():f} available, {(-free).normalize():f} needed",
                    symbol=placement.order.symbol,
                )
            after.append((key, row, row.free + free, row.locked + locked))
        for key, row, new_free, new_locked in after:
            row.free, row.locked = new_free, new_locked
            self.rows[key] = row
            self.changed.add(key)

    def write(self) -> None:
        """One UPDATE for every changed row that exists, one INSERT for the new ones."""
        changed = [self.rows[key] for key in sorted(self.changed)]
        _BALANCE_UPDATE.update_many([row for row in changed if row.pk is not None])
        _BALANCE_INSERT.insert_many([row for row in changed if row.pk is None])


def _paper_balance(user_id: int, asset: str, free: Decimal, locked: Decimal, *, pk: int | None) -> Balance:
    return Balance(id=pk, user_id=user_id, mode=Mode.PAPER, asset=asset, free=free, locked=locked)
