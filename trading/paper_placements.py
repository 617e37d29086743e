"""New paper orders stored in batches: the placements a process's threads have computed
(`PaperExchange.placement`) go to one group-commit writer (config/group_commit.py), which stores
every queued one in ONE IMMEDIATE write transaction and answers each thread once it has committed.

A batch costs the same few statements whatever its size: one read of the taken client order ids,
one read of every balance the batch touches, one multi-row INSERT of the orders, one of the fills,
one UPDATE of every balance changed (and one INSERT of balances new to their users). Each placement
is still decided alone, in the order queued, against the balances as the ones before it left them
(inside the IMMEDIATE transaction nobody else writes, so read-check-write is exact): one refused
(insufficient balance, a client order id taken) writes nothing and leaves the others as they are,
as its own SAVEPOINT would, without a statement. `then(row)` runs per stored order inside the
transaction (the fill notification). Any other failure rolls the batch back and group_commit writes
its placements again one per transaction, so only the faulty one fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection
from django.utils import timezone

from config.group_commit import GroupCommit
from config.prepared import PreparedInsert
from trading.exchange.errors import InsufficientBalance
from trading.exchange.paper import PaperOrder
from trading.exchange.types import Fill as FillValue
from trading.exchanges import as_stored, fill_row, paper_write_turn
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
    taken = _client_ids_taken([p.order.client_order_id for p in batch])
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
    balances.write(timezone.now())
    for placement, row in stored:
        as_stored(row)
        if placement.then is not None:
            placement.then(row)
    return outcomes


_ORDER_INSERT = PreparedInsert(Order)
_FILL_INSERT = PreparedInsert(Fill)
_BALANCE_INSERT = PreparedInsert(Balance)
_PLACEMENTS: GroupCommit[Placement, Order] = GroupCommit(placements_write, turn=paper_write_turn)


def _order_row(placement: Placement) -> Order:
    order = placement.order
    return Order(
        user_id=placement.user_id,
        mode=Mode.PAPER,
        symbol=order.symbol,
        side=order.side.value,
        type=order.type.value,
        client_order_id=order.client_order_id,
        quantity=order.quantity,
        quote_quantity=order.quote_quantity,
        price=order.price,
        source=placement.source,
        exchange_order_id=order.order_id,
        status=order.status.value,
        executed_qty=order.executed,
        cummulative_quote_qty=order.cum_quote,
        avg_price=order.state().average_price,
    )


def _quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _client_ids_taken(client_ids: list[str]) -> set[str]:
    table, column = _quote(Order._meta.db_table), _quote("client_order_id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {column} IN ({_marks(len(client_ids))})",  # noqa: S608
            client_ids,
        )
        return {found for (found,) in cursor.fetchall()}


class _Balances:
    """The paper balances a batch touches, read once, changed in memory placement by placement, and
    written once. Keys: (user id, asset); values: [row id or None for a new row, free, locked]."""

    def __init__(self, batch: Sequence[Placement]) -> None:
        self.rows: dict[tuple[int, str], list[Any]] = {}
        self.changed: set[tuple[int, str]] = set()
        users = sorted({p.user_id for p in batch})
        assets = sorted({asset for p in batch for asset in p.changes})
        if not assets:
            return
        free: Any = Balance._meta.get_field("free")
        locked: Any = Balance._meta.get_field("locked")
        sql = (
            f"SELECT {_quote('id')}, {_quote('user_id')}, {_quote('asset')}, {_quote(free.column)}, "  # noqa: S608
            f"{_quote(locked.column)} FROM {_quote(Balance._meta.db_table)} WHERE {_quote('mode')} = %s "
            f"AND {_quote('user_id')} IN ({_marks(len(users))}) "
            f"AND {_quote('asset')} IN ({_marks(len(assets))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [Mode.PAPER.value, *users, *assets])
            for pk, user_id, asset, had_free, had_locked in cursor.fetchall():
                self.rows[(user_id, asset)] = [
                    pk,
                    free.from_db_value(had_free, None, connection),
                    locked.from_db_value(had_locked, None, connection),
                ]

    def apply(self, placement: Placement) -> None:
        """Applies every change of `placement`, or none and raises InsufficientBalance."""
        after = {}
        for asset, (free, locked) in sorted(placement.changes.items()):
            key = (placement.user_id, asset)
            pk, had_free, had_locked = self.rows.get(key, (None, Decimal(0), Decimal(0)))
            if had_free + free < 0 or had_locked + locked < 0:
                raise InsufficientBalance(
                    f"Not enough {asset}: {had_free.normalize():f} available, {(-free).normalize():f} needed",
                    symbol=placement.order.symbol,
                )
            after[key] = [pk, had_free + free, had_locked + locked]
        self.rows.update(after)
        self.changed.update(after)

    def write(self, now: datetime) -> None:
        """One UPDATE for every changed row that exists, one INSERT for the new ones."""
        old = [(key, self.rows[key]) for key in sorted(self.changed) if self.rows[key][0] is not None]
        new = [(key, self.rows[key]) for key in sorted(self.changed) if self.rows[key][0] is None]
        if old:
            _balances_update([(pk, free, locked) for _, (pk, free, locked) in old], now)
        _BALANCE_INSERT.insert_many(
            [
                Balance(user_id=user_id, mode=Mode.PAPER, asset=asset, free=free, locked=locked)
                for (user_id, asset), (_, free, locked) in new
            ]
        )


def _balances_update(rows: list[tuple[int, Decimal, Decimal]], now: datetime) -> None:
    """`UPDATE ... SET free = CASE id WHEN ... END, locked = CASE id ... END` for every row at once,
    each value stored as `save(update_fields=...)` would store it."""
    free: Any = Balance._meta.get_field("free")
    locked: Any = Balance._meta.get_field("locked")
    updated: Any = Balance._meta.get_field("updated")
    pk = _quote("id")
    cases = " ".join(["WHEN %s THEN %s"] * len(rows))
    sql = (
        f"UPDATE {_quote(Balance._meta.db_table)} SET "  # noqa: S608
        f"{_quote(free.column)} = CASE {pk} {cases} END, "
        f"{_quote(locked.column)} = CASE {pk} {cases} END, "
        f"{_quote(updated.column)} = %s WHERE {pk} IN ({_marks(len(rows))})"
    )
    params: list[Any] = []
    for field, index in ((free, 1), (locked, 2)):
        for row in rows:
            params += [row[0], field.get_db_prep_save(row[index], connection)]
    params.append(updated.get_db_prep_save(now, connection))
    params += [row[0] for row in rows]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
