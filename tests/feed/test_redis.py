"""The same corridor over a real Redis: the feed in one place, the consumer in another, channels_redis
between them (what `manage.py marketfeed` beside daphne does when REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from tests.feed.conftest import next_of
from tests.feed.test_consumer import connect, make_symbol, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(settings: Any, redis_url: str) -> None:
    # redis-py 8 reads with a 5 s socket timeout, exactly channels_redis's 5 s BZPOPMIN: with a bare URL
    # an idle receive raises redis TimeoutError after 5 s. A longer socket timeout is needed.
    host = {"address": redis_url, "socket_timeout": 15}
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}
    }


async def test_the_feed_reaches_a_browser_socket_through_redis(redis_layer, make_feed):
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    feed = await make_feed(layer=layer)
    await make_symbol("ETHUSDT")
    communicator = await connect(await make_user(), "groups=markets,market.ETHUSDT")
    seen: set[str] = set()
    subscribed: list[str] | None = None

    def take(message: dict[str, Any]) -> None:
        parts = message["messages"] if message["type"] == "batch" else [message]
        seen.update(p["type"] for p in parts if p["type"] == "tickers" or p.get("symbol") == "ETHUSDT")

    # The socket joins its groups before it answers "subscribed", so a market frame may come first.
    while subscribed is None:
        message = json.loads(await communicator.receive_from())
        if message["type"] == "subscribed":
            subscribed = message["groups"]
        else:
            take(message)
    assert "market.ETHUSDT" in subscribed
    # ETHUSDT is not in the feed's default set: the watch request crossed Redis to start it.
    while not {"tickers", "book"} <= seen:
        take(json.loads(await communicator.receive_from(timeout=30)))
    assert "ETHUSDT" in feed.state.symbols
    await communicator.disconnect()


async def test_an_idle_receive_outlives_the_blocking_pop_with_that_socket_timeout(redis_layer):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    # One BZPOPMIN round (5 s) passes with nothing to read; then a message must still arrive.
    asyncio.get_running_loop().call_later(
        6, lambda: asyncio.ensure_future(layer.send(channel, {"type": "x"}))
    )
    assert await layer.receive(channel) == {"type": "x"}


async def test_the_feed_publishes_once_per_group_over_redis(redis_layer, make_feed):
    layer = get_channel_layer()
    feed = await make_feed(layer=layer)
    channel = await layer.new_channel()
    await layer.group_add("market.BTCUSDT", channel)
    book = await next_of(layer, channel, "book", "BTCUSDT")
    assert book["bids"]
    assert feed.published > 0
