"""The feed against the project's own MEXC-compatible server, over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer

from trading.exchange.mexc import MexcExchange
from trading.exchange.mexc_ws import StreamConfig
from trading.feed.service import FeedConfig, MarketFeed
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

# Generous bound on waiting for something the exchange pushes every ~100 ms; a hang fails, never a delay.
WAIT_S = 30


@pytest.fixture(autouse=True)
def _local_cache(settings: Any) -> None:
    # Keep the feed's snapshots out of the development file cache under var/.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def sim() -> Iterator[SimExchangeThread]:
    config = SimConfig(
        tick_seconds=0.05, push_seconds=0.05, kline_push_seconds=0.1, mini_ticker_push_seconds=0.1
    )
    with SimExchangeThread(config) as exchange:
        yield exchange


def feed_config(**overrides: Any) -> FeedConfig:
    values: dict[str, Any] = {
        "symbols": ("BTCUSDT",),
        "backfill_intervals": ("1m", "5m"),
        "backfill_limit": 50,
        "markets_interval_s": 0.05,
        "symbol_interval_s": 0.05,
        "snapshot_every_s": 0.1,
        "heartbeat_every_s": 0.1,
        "candle_flush_every_s": 0.1,
    }
    values.update(overrides)
    return FeedConfig(**values)


@pytest.fixture
async def make_feed(sim: SimExchangeThread) -> AsyncIterator[Callable[..., Awaitable[MarketFeed]]]:
    started: list[tuple[MarketFeed, asyncio.Task[None], MexcExchange]] = []

    async def make(layer: Any = None, **overrides: Any) -> MarketFeed:
        exchange = MexcExchange(
            base_url=sim.base_url, ws_url=sim.ws_url, stream_config=StreamConfig(backoff_initial_s=0.05)
        )
        feed = MarketFeed(exchange, config=feed_config(**overrides), layer=layer or InMemoryChannelLayer())
        task = asyncio.create_task(feed.run())
        started.append((feed, task, exchange))
        async with asyncio.timeout(WAIT_S):
            await feed.started.wait()
        return feed

    yield make
    for _feed, task, exchange in started:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await exchange.aclose()


async def listen(layer: Any, *groups: str) -> str:
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return channel


def flatten(text: str) -> list[dict[str, Any]]:
    message = json.loads(text)
    return message["messages"] if message["type"] == "batch" else [message]


async def next_of(
    layer: Any, channel: str, kind: str, symbol: str | None = None, **match: Any
) -> dict[str, Any]:
    """The next frame part of type `kind` (and symbol, and any other fields given) arriving on `channel`."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await layer.receive(channel)
            for part in flatten(message["text"]):
                if part["type"] != kind or (symbol is not None and part.get("symbol") != symbol):
                    continue
                if all(part.get(key) == value for key, value in match.items()):
                    return part


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 - the conditions are plain counters on the feed
            await asyncio.sleep(0.02)
