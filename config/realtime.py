"""Live events, below every app: the Channels group names (spelled only here), the one message type
the socket forwards as it is, and the send that waits for the transaction to commit.

trading/realtime.py (orders, balances, markets), the market feed and accounts/notifications send
through it, so a browser never sees a state the database then rolls back.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from config import livebus

log = logging.getLogger(__name__)

ALL_MARKETS_GROUP = "markets"
# The market feed listens here for the symbols pages watch (trading/feed/service.py).
FEED_CONTROL_GROUP = "feed.control"
# A group message of this type carries JSON `text`, serialized once for the whole group; the socket
# consumer (trading/consumers.py) writes it to the browser unchanged.
LIVE_TEXT = "live.text"


def user_group(user_id: int) -> str:
    """One user's private events (orders, balances, notifications, the sniper's news)."""
    return f"user.{user_id}"


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


async def publish_text(layer: Any, group: str, text: str) -> None:
    """The market feed's one send per group per tick (see trading/consumers.py for the formats)."""
    await layer.group_send(group, {"type": LIVE_TEXT, "text": text})


def send_now(group: str, message: dict[str, Any]) -> None:
    """`message` to `group`: over the channel layer, or without Redis to the live process
    (config/livebus.py). A failure is logged, never raised: it must not undo committed work."""
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
