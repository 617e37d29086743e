"""Live events to Channels groups. Services call these; each send waits for the transaction to commit,
so a browser never sees a state the database then rolls back. Group names come only from here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from config import livebus

if TYPE_CHECKING:
    from trading.models import Order

log = logging.getLogger(__name__)

ALL_MARKETS_GROUP = "markets"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


# The market feed's frames: JSON text serialized once for the whole group; consumers forward it as-is.
LIVE_TEXT = "live.text"


async def publish_text(layer: Any, group: str, text: str) -> None:
    """The market feed's one send per group per tick (see trading/consumers.py for the formats)."""
    await layer.group_send(group, {"type": LIVE_TEXT, "text": text})


def send_now(group: str, message: dict[str, Any]) -> None:
    if livebus.forwarding():  # no Redis, and the sockets are in the live process
        livebus.forward(group, message)
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a dead channel layer must not break a committed trade
        log.exception("realtime send to %s failed", group)


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(group, message))


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
