"""The trading core's live events (orders, balances, accounts, symbols). Services call these; each send
waits for the transaction to commit (config/realtime.py, where group names are spelled)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.realtime import ALL_MARKETS_GROUP, send_on_commit, user_group
from config.realtime import LIVE_TEXT as LIVE_TEXT  # trading/broadcast.py reads it from here

if TYPE_CHECKING:
    from trading.models import Order


def order_payload(order: Order) -> dict[str, Any]:
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "mode": order.mode,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "quantity": _s(order.quantity),
        "quote_quantity": _s(order.quote_quantity),
        "price": _s(order.price),
        "executed_qty": _s(order.executed_qty),
        "cummulative_quote_qty": _s(order.cummulative_quote_qty),
        "avg_price": _s(order.avg_price),
        "error": order.error,
    }


def _s(value: object) -> str | None:
    return None if value is None else str(value)


def order_changed(order: Order) -> None:
    send_on_commit(user_group(order.user_id), {"type": "order.changed", "order": order_payload(order)})


def balance_changed(user_id: int, mode: str) -> None:
    send_on_commit(user_group(user_id), {"type": "balance.changed", "mode": mode})


def account_changed(user_id: int) -> None:
    send_on_commit(user_group(user_id), {"type": "account.changed"})


def symbols_changed(count: int) -> None:
    send_on_commit(ALL_MARKETS_GROUP, {"type": "symbols.changed", "events": count})
