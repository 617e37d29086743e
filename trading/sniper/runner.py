"""The sniper process (`python manage.py sniper`): four asyncio loops over the sync services.

- probe: listings about to open (or listed with no known time) are probed every ~75 ms with the
  order book (weight 1); the first frame with asks refreshes the symbol, moves the listing to trading
  and fires its rules at once, each in its own thread;
- watch: every few seconds the Symbol rows (kept by symbols_sync) are folded into listings, and the
  new-coin calendar is read every few minutes;
- monitor: every ~300 ms, one price read for exits, alerts and market triggers;
- sync: every 2 s, fills into positions and firings left by a crash resumed.
All state is in the database, so a restart resumes where the last process stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from trading.exchange import errors as xerr
from trading.exchange.mexc_rest import MexcRestClient
from trading.exchanges import public_client
from trading.sniper.calendar import calendar_fetch
from trading.sniper.models import Listing
from trading.sniper.services.listings import (
    listing_open_window,
    listing_state_of,
    listing_transition,
    listings_from_calendar,
    listings_from_symbols,
    symbol_refresh,
)
from trading.sniper.services.monitor import monitor_tick
from trading.sniper.services.positions import monitor_interval, positions_sync
from trading.sniper.services.rules import firing_execute, firings_resume, listing_claim

log = logging.getLogger(__name__)


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def in_thread(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Sync service code in a worker thread with its own database connection."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(wrapped, thread_sensitive=False)


def listing_opened(listing_id: int, detected_at: datetime) -> list[int]:
    """A frame showed the listing trading: confirm with exchangeInfo, move it, claim its rules."""
    listing = Listing.objects.get(pk=listing_id)
    row = symbol_refresh(symbol=listing.symbol)
    if listing_state_of(row) != Listing.State.TRADING:
        return []
    listing_transition(listing=listing, to=Listing.State.TRADING, detail="order book shows trading")
    return [f.pk for f in listing_claim(listing=listing, detected_at=detected_at)]


async def fire(firing_ids: list[int]) -> None:
    await asyncio.gather(*(in_thread(firing_execute)(firing_id=pk) for pk in firing_ids))


class Sniper:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.client: MexcRestClient | None = None
        self.refreshed: dict[str, float] = {}

    async def run(self) -> None:
        self.client = public_client()
        try:
            await in_thread(firings_resume)()
            loops = [self.probe_loop(), self.watch_loop(), self.monitor_loop(), self.sync_loop()]
            await asyncio.gather(*loops)
        finally:
            await self.client.aclose()

    async def _every(self, seconds: float, step: Callable[[], Awaitable[Any]], name: str) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                await step()
            except Exception:  # one bad tick must not stop the watch; the next one retries
                log.exception("sniper %s tick failed", name)
            wait = max(0.0, seconds - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), wait)

    async def probe_loop(self) -> None:
        await self._every(_setting("SNIPER_PROBE_MS", 75) / 1000, self.probe_once, "probe")

    async def probe_once(self) -> None:
        listings = await in_thread(listing_open_window)()
        await asyncio.gather(*(self.probe(listing) for listing in listings))

    async def probe(self, listing: Listing) -> None:
        assert self.client is not None
        try:
            book = await self.client.depth(listing.symbol, limit=5)
        except xerr.ExchangeError:
            book = None
        now = time.monotonic()
        shows_trading = book is not None and bool(book.asks)
        # exchangeInfo weighs 10: besides the book's signal, at most once a second per symbol.
        if not shows_trading and now - self.refreshed.get(listing.symbol, 0) < 1.0:
            return
        self.refreshed[listing.symbol] = now
        firing_ids = await in_thread(listing_opened)(listing.pk, timezone.now())
        if firing_ids:
            await fire(firing_ids)

    async def watch_loop(self) -> None:
        last_calendar = -1e9

        async def step() -> None:
            nonlocal last_calendar
            if time.monotonic() - last_calendar > _setting("SNIPER_CALENDAR_EVERY_S", 300):
                last_calendar = time.monotonic()
                coins = await in_thread(calendar_fetch)()
                if coins:
                    await in_thread(listings_from_calendar)(coins=coins)
            opened = await in_thread(listings_from_symbols)()
            for listing in opened:
                claimed = await in_thread(listing_claim)(listing=listing)
                await fire([f.pk for f in claimed])

        await self._every(_setting("SNIPER_WATCH_EVERY_S", 5), step, "watch")

    async def monitor_loop(self) -> None:
        await self._every(monitor_interval(), in_thread(monitor_tick), "monitor")

    async def sync_loop(self) -> None:
        async def step() -> None:
            await in_thread(positions_sync)()
            await in_thread(firings_resume)()

        await self._every(2.0, step, "sync")
