"""What the user-data stream says, applied to Brute's rows: order updates, fills and balances.

Each applier is idempotent and never moves an order backwards, so the same news arriving from the
stream, the read-back after placing and reconcile lands once, in whatever order they come:

- an order's state only advances (PENDING < NEW < PARTIALLY_FILLED < final), and its executed
  quantity never shrinks (`order_state_behind`);
- a fill is stored once per (order, trade id); a new one is folded into its position at once
  (`position_apply_fill`), which creates or grows the position and so arms its exits for the
  position monitor on its next tick;
- balances are MEXC's absolute figures for the asset.

Sends to pages (`realtime`) happen after commit.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from trading import realtime
from trading.exchange.events import BalanceUpdate, OrderUpdate
from trading.exchange.types import Fill as FillValue
from trading.exchanges import ms_to_dt
from trading.models import Balance, Fill, Mode, Order

log = logging.getLogger(__name__)

_FINAL = {
    Order.Status.FILLED,
    Order.Status.CANCELED,
    Order.Status.PARTIALLY_CANCELED,
    Order.Status.REJECTED,
}


def _rank(status: str) -> int:
    if status in _FINAL:
        return 3
    return {Order.Status.PENDING: 0, Order.Status.NEW: 1, Order.Status.PARTIALLY_FILLED: 2}.get(status, 1)


def order_state_behind(row: Order, *, status: str, executed: Decimal) -> bool:
    """True when (`status`, `executed`) is older news than what `row` already holds."""
    return _rank(status) < _rank(row.status) or executed < row.executed_qty


def _live_order(user_id: int, client_order_id: str | None, order_id: str) -> Order | None:
    ref = Q(exchange_order_id=order_id)
    if client_order_id:
        ref |= Q(client_order_id=client_order_id)
    return Order.objects.filter(ref, user_id=user_id, mode=Mode.LIVE).first()


def order_event_apply(*, user_id: int, event: OrderUpdate) -> Order | None:
    """Advance the user's live order to what the stream reports. None when the order is not Brute's
    (placed elsewhere with the same key)."""
    from trading.services.orders import order_filled_notify

    with transaction.atomic():
        row = _live_order(user_id, event.client_order_id, event.order_id)
        if row is None:
            return None
        if order_state_behind(row, status=event.status.value, executed=event.executed_quantity):
            return row
        was_filled = row.status == Order.Status.FILLED
        row.exchange_order_id = event.order_id
        row.status = event.status.value
        row.executed_qty = event.executed_quantity
        row.cummulative_quote_qty = event.executed_quote
        if event.executed_quantity > 0:
            row.avg_price = event.executed_quote / event.executed_quantity
        row.error = ""
        row.save(
            update_fields=[
                "exchange_order_id",
                "status",
                "executed_qty",
                "cummulative_quote_qty",
                "avg_price",
                "error",
                "updated",
            ]
        )
        realtime.order_changed(row)
        if not was_filled:
            order_filled_notify(row)
    return row


def fill_event_apply(*, user_id: int, fill: FillValue) -> Fill | None:
    """Store one fill of the user's live order (once per trade id) and fold it into its position.
    None when its order is not known yet (the caller tries again after the order's update) or the
    fill was stored already."""
    from trading.sniper.services.positions import position_apply_fill

    order = _live_order(user_id, fill.client_order_id, fill.order_id)
    if order is None:
        return None
    try:
        with transaction.atomic():
            row, created = Fill.objects.get_or_create(
                order=order,
                trade_id=fill.trade_id,
                defaults={
                    "price": fill.price,
                    "qty": fill.quantity,
                    "quote_qty": fill.quote_quantity,
                    "commission": fill.commission,
                    "commission_asset": fill.commission_asset,
                    "is_maker": fill.is_maker,
                    "time": ms_to_dt(fill.time_ms),
                },
            )
    except IntegrityError:  # the read-back or reconcile stored it a moment ago
        return None
    if not created:
        return None
    position_apply_fill(fill=row)
    return row


def balance_event_apply(*, user_id: int, event: BalanceUpdate) -> None:
    with transaction.atomic():
        Balance.objects.update_or_create(
            user_id=user_id,
            mode=Mode.LIVE,
            asset=event.asset,
            defaults={"free": event.free, "locked": event.locked},
        )
        realtime.balance_changed(user_id, Mode.LIVE)
