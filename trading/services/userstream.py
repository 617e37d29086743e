"""What the user-data stream says, applied to Brute's rows: order updates, fills and balances.

Each applier is idempotent and never moves an order backwards, so the same news arriving from the
stream, the read-back after placing and reconcile lands once, in whatever order they come:

- an order's state only advances (PENDING < NEW < PARTIALLY_FILLED < final), and its executed
  quantity never shrinks (`order_state_behind`);
- a fill is stored once per (order, trade id); the stream's process (`trading/userstream.py`) then
  folds each new one into its position (the position book, `trading/positions.py`), which creates or grows
  the position and so arms its exits for the position monitor on its next tick;
- balances are MEXC's absolute figures for the asset.

Sends to pages (`realtime`) happen after commit.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.notifications.services import notification_send
from trading import formatting, realtime
from trading.exchange.events import BalanceUpdate, OrderUpdate
from trading.exchange.types import Fill as FillValue
from trading.exchanges import fill_row
from trading.models import Balance, Fill, Mode, Order

log = logging.getLogger(__name__)

_FINAL = {
    Order.Status.FILLED,
    Order.Status.CANCELED,
    Order.Status.PARTIALLY_CANCELED,
    Order.Status.REJECTED,
}


_RANKS: dict[str, int] = {Order.Status.PENDING: 0, Order.Status.NEW: 1, Order.Status.PARTIALLY_FILLED: 2}


def _rank(status: str) -> int:
    return 3 if status in _FINAL else _RANKS.get(status, 1)


def order_state_behind(row: Order, *, status: str, executed: Decimal) -> bool:
    """True when (`status`, `executed`) is older news than what `row` already holds."""
    return _rank(status) < _rank(row.status) or executed < row.executed_qty


def newer_than(*, status: str, executed: Decimal) -> Q:
    """Rows that already hold newer news than (`status`, `executed`): exclude them from an UPDATE, so
    the check and the write are one statement (SQLite cannot upgrade a read transaction to a write
    while another connection writes; a conditional UPDATE never needs to)."""
    ahead = [s for s in (*_RANKS, *_FINAL) if _rank(s) > _rank(status)]
    return Q(status__in=ahead) | Q(executed_qty__gt=executed)


def order_state_write(
    order_id: int, *, status: str, executed: Decimal, rewrite_final: bool = True, **fields: object
) -> bool:
    """Write an order's exchange state unless the row already holds newer news; True if written.
    `rewrite_final=False` also skips a row already in this final status (so only one writer sees the
    transition, and announces it)."""
    newer = newer_than(status=status, executed=executed)
    if not rewrite_final and status in _FINAL:
        newer |= Q(status=status)
    rows = Order.objects.filter(pk=order_id).exclude(newer)
    return bool(rows.update(status=status, executed_qty=executed, updated=timezone.now(), **fields))


def _live_order(user_id: int, client_order_id: str | None, order_id: str) -> Order | None:
    ref = Q(exchange_order_id=order_id)
    if client_order_id:
        ref |= Q(client_order_id=client_order_id)
    return Order.objects.filter(ref, user_id=user_id, mode=Mode.LIVE).first()


def order_event_apply(*, user_id: int, event: OrderUpdate) -> Order | None:
    """Advance the user's live order to what the stream reports. None when the order is not Brute's
    (placed elsewhere with the same key)."""
    row = _live_order(user_id, event.client_order_id, event.order_id)
    if row is None:
        return None
    fields: dict[str, object] = {
        "exchange_order_id": event.order_id,
        "cummulative_quote_qty": event.executed_quote,
        "error": "",
    }
    if event.executed_quantity > 0:
        fields["avg_price"] = event.executed_quote / event.executed_quantity
    with transaction.atomic():
        status, executed = event.status.value, event.executed_quantity
        if not order_state_write(row.pk, status=status, executed=executed, rewrite_final=False, **fields):
            return row
        row.refresh_from_db()
        realtime.order_changed(row)
        order_filled_notify(row)  # only a FILLED row is announced, and only its writer gets here
    return row


def fill_event_store(*, user_id: int, fill: FillValue) -> Fill | None:
    """The Fill row, once per (order, trade id), in its own short transaction; None when its order is
    not known yet (the caller tries again after the order's update) or the fill was stored already."""
    order = _live_order(user_id, fill.client_order_id, fill.order_id)
    if order is None:
        return None
    try:
        with transaction.atomic():
            row = fill_row(order, fill)
            row.save(force_insert=True)
            return row
    except IntegrityError:  # stored already, by the read-back, reconcile or an earlier frame
        return None


def balance_event_apply(*, user_id: int, event: BalanceUpdate) -> None:
    values = {"free": event.free, "locked": event.locked, "updated": timezone.now()}
    rows = Balance.objects.filter(user_id=user_id, mode=Mode.LIVE, asset=event.asset)
    with transaction.atomic():
        if not rows.update(**values):
            try:
                with transaction.atomic():
                    Balance.objects.create(user_id=user_id, mode=Mode.LIVE, asset=event.asset, **values)
            except IntegrityError:
                rows.update(**values)
        realtime.balance_changed(user_id, Mode.LIVE)


def order_filled_notify(row: Order) -> None:
    """Tells the user (page, and their channels) when an order has completely filled."""
    if row.status != Order.Status.FILLED:
        return
    symbol = formatting.symbol_row(row.symbol)
    average = f" at {formatting.average_text(row.avg_price, symbol)}" if row.avg_price else ""
    notification_send(
        user=row.user,
        kind="order_filled",
        title=f"{row.side} {row.symbol} filled",
        body=f"{row.get_side_display()} {formatting.quantity_text(row.executed_qty, symbol)}{average} "
        f"({row.get_mode_display().lower()}, {row.get_type_display().lower()}).",
        data={"order_id": row.pk, "symbol": row.symbol, "side": row.side, "mode": row.mode},
        level="success",
    )
