"""/ws/live/ through the real session authentication and the channel layer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from django.conf import settings
from django.test import Client

from config.realtime import FEED_CONTROL_GROUP, LIVE_TEXT, market_group, publish_text, user_group
from config.routing import websocket_urlpatterns
from tests.conftest import Communicator
from tests.factories import UserFactory
from trading.feed.service import WATCH_MESSAGE
from trading.models import Symbol

pytestmark = pytest.mark.django_db(transaction=True)

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


@sync_to_async
def session_cookie_of(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@sync_to_async
def make_user() -> Any:
    return UserFactory()


@sync_to_async
def make_symbol(name: str) -> None:
    Symbol.objects.create(symbol=name, base_asset=name[:-4], quote_asset="USDT")


async def connect(user: Any, query: str = "") -> Communicator:
    cookie = await session_cookie_of(user)
    path = f"/ws/live/?{query}" if query else "/ws/live/"
    communicator = Communicator(application, path, headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_an_anonymous_socket_is_refused():
    communicator = Communicator(application, "/ws/live/?groups=markets")
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_it_joins_a_market_group_and_forwards_the_feed_frame_unchanged():
    await make_symbol("BTCUSDT")
    communicator = await connect(await make_user(), "groups=markets,market.BTCUSDT")
    reply = await communicator.receive_json_from()
    assert reply["type"] == "subscribed"
    assert {"markets", "market.BTCUSDT"} <= set(reply["groups"])
    frame = json.dumps({"type": "book", "symbol": "BTCUSDT", "bids": [["1.5", "2"]], "asks": []})
    await publish_text(get_channel_layer(), market_group("BTCUSDT"), frame)
    assert await communicator.receive_from() == frame
    await communicator.disconnect()


async def test_joining_a_market_group_asks_the_feed_to_watch_the_symbol():
    layer = get_channel_layer()
    feed_channel = await layer.new_channel()
    await layer.group_add(FEED_CONTROL_GROUP, feed_channel)
    await make_symbol("ETHUSDT")
    communicator = await connect(await make_user())
    await communicator.receive_json_from()
    await communicator.send_json_to({"subscribe": ["market.ETHUSDT"]})
    reply = await communicator.receive_json_from()
    assert "market.ETHUSDT" in reply["groups"]
    assert await layer.receive(feed_channel) == {"type": WATCH_MESSAGE, "symbols": ["ETHUSDT"]}
    await communicator.disconnect()


async def test_unknown_symbols_and_made_up_groups_are_refused():
    communicator = await connect(await make_user(), "groups=market.NOPEUSDT,admin,market.btc'usdt")
    reply = await communicator.receive_json_from()
    assert set(reply["refused"]) == {"market.NOPEUSDT", "admin", "market.btc'usdt"}
    await communicator.disconnect()


async def test_it_cannot_join_another_users_group():
    me, other = await make_user(), await make_user()
    communicator = await connect(me, f"groups={user_group(other.pk)}")
    reply = await communicator.receive_json_from()
    assert reply["refused"] == [user_group(other.pk)]
    assert reply["groups"] == [user_group(me.pk)]
    layer = get_channel_layer()
    await layer.group_send(
        user_group(other.pk), {"type": LIVE_TEXT, "text": '{"type":"order","for":"other"}'}
    )
    await layer.group_send(user_group(me.pk), {"type": LIVE_TEXT, "text": '{"type":"order","for":"me"}'})
    # Channel-layer delivery is ordered: had the first send reached this socket it would come first.
    assert await communicator.receive_json_from() == {"type": "order", "for": "me"}
    await communicator.disconnect()


async def test_it_always_receives_its_own_private_events():
    user = await make_user()
    communicator = await connect(user)
    await communicator.receive_json_from()
    event = {"type": "order.changed", "order": {"id": 7, "status": "FILLED"}}
    await get_channel_layer().group_send(user_group(user.pk), event)
    assert await communicator.receive_json_from() == event
    await communicator.disconnect()


async def test_it_leaves_a_group_on_unsubscribe_but_keeps_the_private_one():
    await make_symbol("BTCUSDT")
    user = await make_user()
    communicator = await connect(user, "groups=market.BTCUSDT")
    await communicator.receive_json_from()
    await communicator.send_json_to({"unsubscribe": ["market.BTCUSDT", user_group(user.pk)]})
    reply = await communicator.receive_json_from()
    assert reply["groups"] == [user_group(user.pk)]
    await communicator.disconnect()
