"""The trading core's live events (orders, balances, accounts, symbols). Services call these; each send
waits for the transaction to commit (config/realtime.py, where group names are spelled)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from config.realtime import ALL_MARKETS_GROUP, send_on_commit, user_group
from config.realtime import LIVE_TEXT as LIVE_TEXT  # trading/broadcast.py reads it from here
from trading.schemas import order_json

if TYPE_CHECKING:
    from trading.models import Order

log = logging.getLogger(__name__)


def order_changed(order: Order) -> None:
    """Tell the owner's pages about `order` once the transaction commits. A display concern: an
    order that cannot be serialised is logged and not sent, never a reason to undo the write."""
    try:
        payload = order_json(order)
    except Exception:  # the write matters more than the page's refresh
        log.exception("order %s: live event not built", order.pk)
        return
    send_on_commit(user_group(order.user_id), {"type": "order.changed", "order": payload})


def balance_changed(user_id: int, mode: str) -> None:
    send_on_commit(user_group(user_id), {"type": "balance.changed", "mode": mode})


def account_changed(user_id: int) -> None:
    send_on_commit(user_group(user_id), {"type": "account.changed"})


def symbols_changed(count: int) -> None:
    send_on_commit(ALL_MARKETS_GROUP, {"type": "symbols.changed", "events": count})
