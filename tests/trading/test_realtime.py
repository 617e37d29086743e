from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import User
from trading import realtime, services
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db(transaction=True)


def test_group_names_come_from_one_place() -> None:
    assert realtime.user_group(7) == "user.7"
    assert realtime.market_group("SOLUSDT") == "market.SOLUSDT"
    assert realtime.ALL_MARKETS_GROUP == "markets"


def test_an_order_is_announced_to_its_owner_after_commit(synced: SimExchangeThread, trader: User) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.user_group(trader.pk), channel)

    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )

    seen = []
    while True:
        message = async_to_sync(layer.receive)(channel)
        seen.append(message)
        if message["type"] == "order.changed" and message["order"]["status"] == "FILLED":
            break
    # A paper order is written once, filled, in one transaction: no PENDING state is ever committed.
    assert [m["order"]["status"] for m in seen if m["type"] == "order.changed"] == ["FILLED"]
    assert seen[-1]["order"]["id"] == order.pk
    assert "api_secret" not in str(seen)
