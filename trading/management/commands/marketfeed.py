"""`manage.py marketfeed`: the market feed as its own process (used when REDIS_URL is set)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from trading.feed.service import FeedConfig, MarketFeed, exchange_from_settings


class Command(BaseCommand):
    help = "Stream MEXC market data into the cache, the Candle table and the Channels groups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbols", help="comma-separated symbols always watched (default: settings)")

    def handle(self, *args: Any, symbols: str | None, **opts: Any) -> None:
        if not settings.REDIS_URL:
            self.stderr.write(
                "Without REDIS_URL the channel layer reaches only its own process: the live process runs "
                "the feed itself, so this command would publish to nobody."
            )
        overrides: dict[str, Any] = {}
        if symbols:
            overrides["symbols"] = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
        config = FeedConfig.from_settings(**overrides)
        asyncio.run(_serve(config))


async def _serve(config: FeedConfig) -> None:
    exchange = exchange_from_settings()
    feed = MarketFeed(exchange, config=config)
    task = asyncio.create_task(feed.run())
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        # honcho stops processes with SIGTERM: cancel, so the last closed candles are still written;
        # a second signal means "now".
        nonlocal signals
        signals += 1
        if signals > 1:
            os._exit(1)
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await exchange.aclose()
