"""The one market feed: MEXC streams in, current state in memory, one coalesced frame per group out.

Tasks (all on one event loop): `_consume` applies decoded events to `MarketState` (no I/O except an
order book's REST re-snapshot after a gap); the coalescer publishes each dirty group at most every
`markets_interval_s` / `symbol_interval_s`; slower loops poll REST tickers, write the cache snapshot
and heartbeat, upsert closed candles, listen on the `feed.control` group and release symbols nobody
watches any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from config import metrics
from config.health import MARKET_FEED_KEY, MARKET_STREAM_KEY
from config.realtime import ALL_MARKETS_GROUP, FEED_CONTROL_GROUP, market_group, publish_text
from trading.exchange.errors import ExchangeError
from trading.exchange.events import (
    BookTickerEvent,
    DepthEvent,
    KlineEvent,
    StreamEvent,
    StreamReconnected,
    SubscriptionRefused,
    TickerEvent,
    TradesEvent,
)
from trading.exchange.mexc import MexcExchange
from trading.exchange.mexc_ws import MexcStream, Topics
from trading.exchange.orderbook import LocalOrderBook
from trading.exchange.types import Kline, KlineQuery, Ticker
from trading.feed import store
from trading.feed.coalesce import Coalescer
from trading.feed.state import MarketState, model_interval

log = logging.getLogger(__name__)

WATCH_MESSAGE = "feed.watch"
# A watched symbol is released this long after the last renewal; each page renews every WATCH_RENEW_S,
# so two renewals in a row may be lost (a slow layer, a busy loop) and the third still comes in time.
WATCH_LEASE_S = 90.0
WATCH_RENEW_S = WATCH_LEASE_S / 4
# The exchange stream names the hour "1h"; the Candle table and REST say "60m".
_STREAM_INTERVAL = {"60m": "1h"}
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


class FeedExchange(Protocol):
    """What the feed needs of an exchange adapter (MexcExchange satisfies it)."""

    def market_stream(self) -> MexcStream: ...

    def order_book(self, symbol: str, *, snapshot_depth: int = ...) -> LocalOrderBook: ...

    async def tickers(self, symbols: Any = None) -> list[Ticker]: ...

    async def klines(self, query: KlineQuery) -> list[Kline]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class FeedConfig:
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    live_intervals: tuple[str, ...] = ("1m",)
    backfill_intervals: tuple[str, ...] = ("1m", "5m", "15m", "60m", "4h", "1d")
    backfill_limit: int = 500
    markets_interval_s: float = 0.25
    symbol_interval_s: float = 0.1
    rest_tickers_every_s: float = 30.0
    snapshot_every_s: float = 1.0
    heartbeat_every_s: float = 5.0
    candle_flush_every_s: float = 1.0
    release_after_s: float = WATCH_LEASE_S
    reap_every_s: float = 5.0
    max_watched: int = 60
    book_levels: int = 20
    snapshot_depth: int = 1000

    @classmethod
    def from_settings(cls, **overrides: Any) -> FeedConfig:
        """MARKET_FEED_SYMBOLS and MARKET_FEED_INTERVALS when settings declare them, else defaults."""
        values: dict[str, Any] = {}
        values["symbols"] = tuple(settings.MARKET_FEED_SYMBOLS)
        values["live_intervals"] = tuple(settings.MARKET_FEED_INTERVALS)
        values.update(overrides)
        return cls(**values)


def exchange_from_settings() -> FeedExchange:
    return MexcExchange(base_url=str(settings.MEXC_BASE_URL), ws_url=str(settings.MEXC_WS_URL))


class MarketFeed:
    def __init__(
        self,
        exchange: FeedExchange,
        *,
        config: FeedConfig | None = None,
        layer: BaseChannelLayer | None = None,
    ) -> None:
        self.exchange = exchange
        self.config = config or FeedConfig()
        self.layer = layer
        self.stream = exchange.market_stream()
        self.state = MarketState()
        self.books: dict[str, LocalOrderBook] = {}
        self.leases: dict[str, float] = {}
        self.permanent: set[str] = set()
        self.coalescer = Coalescer(self._interval_for)
        self.pending_candles: dict[tuple[str, str, int], Kline] = {}
        self.on_publish: Callable[[str, str], None] | None = None
        self.events = self.published = self.candles_written = self.backfills = 0
        self.started = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._control_channel: str | None = None
        self._snapshot_version = -1

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Runs until cancelled; every loop survives its own errors, so one bad frame cannot stop it."""
        try:
            await self.start()
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def start(self) -> None:
        if self.layer is None:
            self.layer = get_channel_layer()
        await self.stream.subscribe([Topics.mini_tickers()])
        for symbol in self.config.symbols:
            await self.watch(symbol, permanent=True)
        cfg = self.config
        self._spawn(self._consume())
        self._spawn(self.coalescer.run(self._flush))
        # The default prefix matters: channels_redis reads every process-specific channel through one
        # shared receive loop, and a second prefix would starve the consumers of this process.
        self._control_channel = await self.layer.new_channel()
        await self._join_control()
        self._spawn(self._control())
        self._every(600, self._join_control)
        self._every(cfg.rest_tickers_every_s, self._poll_tickers)
        self._every(cfg.snapshot_every_s, self.write_snapshot)
        self._every(cfg.heartbeat_every_s, self.heartbeat)
        self._every(cfg.candle_flush_every_s, self.flush_candles)
        self._every(cfg.reap_every_s, self._reap)
        self.started.set()

    async def stop(self) -> None:
        """Bounded clean-up: when Redis or the database is already gone (a whole stack stopping at
        once), each step gives up after a few seconds instead of holding the process open."""
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.stream.aclose()
        try:
            async with asyncio.timeout(5):
                await self.flush_candles()
                if self._control_channel and self.layer is not None:
                    await self.layer.group_discard(FEED_CONTROL_GROUP, self._control_channel)
        except Exception:  # shutting down anyway; the next start backfills what was not written
            log.warning("market feed: clean-up at stop did not finish", exc_info=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)
        return task

    def _forget_task(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("market feed task failed", exc_info=task.exception())

    def _every(self, seconds: float, job: Callable[[], Awaitable[Any]]) -> None:
        async def loop() -> None:
            while True:
                try:
                    await job()
                except Exception:  # a periodic job logs and tries again next round
                    log.exception("market feed job %s failed", getattr(job, "__name__", job))
                await asyncio.sleep(seconds)

        self._spawn(loop())

    # ---- the hot path ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            event = await self.stream.next_event()
            try:
                await self.handle(event)
            except ExchangeError as exc:  # a book re-snapshot failed; the next push retries it
                log.warning("market feed: %s", exc)
            except Exception:  # one odd event must not stop the stream
                log.exception("market feed: could not apply %r", event)

    async def handle(self, event: StreamEvent) -> None:
        """Apply one decoded event to the state and mark the groups it changes."""
        self.events += 1
        metrics.feed_frame(type(event).__name__)
        state, mark = self.state, self.coalescer.mark
        if isinstance(event, TickerEvent):
            state.on_ticker(event)
            mark(ALL_MARKETS_GROUP)
            if event.symbol in state.symbols:
                mark(market_group(event.symbol))
        elif isinstance(event, DepthEvent):
            book = self.books.get(event.symbol)
            if book is not None and await book.on_event(event):
                state.on_book_changed(event.symbol)
                mark(market_group(event.symbol))
        elif isinstance(event, TradesEvent):
            if event.symbol in state.symbols:
                state.on_trades(event.symbol, event.trades)
                mark(market_group(event.symbol))
        elif isinstance(event, KlineEvent):
            self._on_kline(event.kline)
        elif isinstance(event, BookTickerEvent):
            state.on_book_ticker(event)
            mark(ALL_MARKETS_GROUP)
        elif isinstance(event, StreamReconnected):
            for book in self.books.values():
                await book.on_event(event)
            # The exchange may have restarted with other symbols: re-read the listing now, not within
            # rest_tickers_every_s, so a symbol it no longer has turns unavailable at once.
            self._spawn(self._poll_tickers())
        elif isinstance(event, SubscriptionRefused):
            log.warning("exchange refused %s: %s", event.topic, event.reason)

    def _on_kline(self, kline: Kline) -> None:
        if kline.symbol not in self.state.symbols:
            return
        closed, ended = self.state.on_kline(kline)
        if closed is not None:
            self._queue_candles([closed])
        for candle in ended:
            # A rolled-up candle is only an estimate: the table gets the exchange's own figures.
            self._spawn(self._reread_closed(candle))
        self.coalescer.mark(market_group(kline.symbol))

    def _interval_for(self, group: str) -> float:
        if group == ALL_MARKETS_GROUP:
            return self.config.markets_interval_s
        return self.config.symbol_interval_s

    async def _flush(self, group: str) -> None:
        if group == ALL_MARKETS_GROUP:
            text = self.state.take_tickers_payload()
        else:
            text = self.state.take_symbol_payload(group.removeprefix(market_group("")))
        if text is None or self.layer is None:
            return
        try:
            await publish_text(self.layer, group, text)
        except Exception:  # the channel layer (Redis) may be down; the next tick tries again
            log.exception("market feed publish to %s failed", group)
            return
        self.published += 1
        if self.on_publish is not None:
            self.on_publish(group, text)

    # ---- watched symbols ---------------------------------------------------------------------------

    def _topics(self, symbol: str) -> list[str]:
        topics = [Topics.deals(symbol), Topics.depth(symbol)]
        topics += [Topics.kline(symbol, _STREAM_INTERVAL.get(iv, iv)) for iv in self.config.live_intervals]
        return topics

    async def watch(self, symbol: str, *, permanent: bool = False) -> bool:
        """Start (or keep) streaming a symbol's book, trades and forming candles."""
        symbol = symbol.upper()
        if not _SYMBOL.match(symbol):
            return False
        if permanent:
            self.permanent.add(symbol)
        if symbol not in self.state.symbols and len(self.state.symbols) >= self.config.max_watched:
            log.warning(
                "market feed: not watching %s, already at %s symbols", symbol, self.config.max_watched
            )
            return False
        self.leases[symbol] = time.monotonic() + self.config.release_after_s
        if symbol in self.state.symbols:
            return True
        self._open_book(symbol)
        await self.stream.subscribe(self._topics(symbol))
        self._spawn(self.backfill(symbol))
        log.info("market feed: watching %s", symbol)
        return True

    def _open_book(self, symbol: str) -> None:
        """A fresh local book for `symbol` (it snapshots over REST at its first depth push), served to
        this process's paper exchange (local_books) and cut into the page's ladder once in sync."""
        book = self.exchange.order_book(symbol, snapshot_depth=self.config.snapshot_depth)
        self.books[symbol] = book
        levels = self.config.book_levels
        self.state.watch(symbol).book_view = lambda: book.view(levels) if book.synced else None

    async def release(self, symbol: str) -> None:
        self.leases.pop(symbol, None)
        self.books.pop(symbol, None)
        self.state.release(symbol)
        self.coalescer.forget(market_group(symbol))
        await self.stream.unsubscribe(self._topics(symbol))
        await sync_to_async(cache.delete, thread_sensitive=False)(store.book_key(symbol))
        log.info("market feed: released %s", symbol)

    async def _reap(self) -> None:
        now = time.monotonic()
        for symbol, until in list(self.leases.items()):
            if until < now and symbol not in self.permanent:
                await self.release(symbol)

    async def _join_control(self) -> None:
        # channels_redis forgets group members after a day, so the feed re-joins now and then.
        assert self.layer is not None
        assert self._control_channel is not None
        await self.layer.group_add(FEED_CONTROL_GROUP, self._control_channel)

    async def _control(self) -> None:
        """`feed.watch` messages from consumers: {"type": "feed.watch", "symbols": [...]}, renewed while
        a page shows the symbol; the lease lapses `release_after_s` after the last renewal."""
        assert self.layer is not None
        assert self._control_channel is not None
        while True:
            try:
                message = await self.layer.receive(self._control_channel)
            except Exception:  # Redis went away or timed out: the leases survive a short gap
                log.exception("market feed: control channel receive failed")
                await asyncio.sleep(1)
                continue
            if message.get("type") == WATCH_MESSAGE:
                for symbol in list(message.get("symbols") or ())[:20]:
                    if isinstance(symbol, str):
                        await self.watch(symbol)

    # ---- candles -----------------------------------------------------------------------------------

    def _queue_candles(self, klines: list[Kline]) -> None:
        for k in klines:
            self.pending_candles[(k.symbol, model_interval(k.interval), k.open_time_ms)] = k

    async def backfill(self, symbol: str) -> None:
        """Closed candles from REST into the table; the newest, still forming, seeds the live one."""
        now_ms = int(time.time() * 1000)
        for interval in self.config.backfill_intervals:
            try:
                klines = await self.exchange.klines(
                    KlineQuery(symbol, interval, limit=self.config.backfill_limit)
                )
            except ExchangeError as exc:
                log.warning("market feed: backfill %s %s failed: %s", symbol, interval, exc)
                continue
            self._queue_candles([k for k in klines if k.close_time_ms < now_ms])
            watched = self.state.symbols.get(symbol)
            forming = klines[-1] if klines and klines[-1].close_time_ms >= now_ms else None
            if forming is None or watched is None or model_interval(interval) in watched.forming:
                continue
            if interval in self.config.live_intervals:
                self._on_kline(forming)
            elif "1m" in self.config.live_intervals:
                self.state.seed_rollup(forming)
                self.coalescer.mark(market_group(symbol))
        self.backfills += 1

    async def _reread_closed(self, candle: Kline) -> None:
        try:
            klines = await self.exchange.klines(
                KlineQuery(candle.symbol, candle.interval, start_ms=candle.open_time_ms, limit=1)
            )
        except ExchangeError as exc:
            log.warning("market feed: re-reading %s %s failed: %s", candle.symbol, candle.interval, exc)
            return
        self._queue_candles([k for k in klines if k.open_time_ms == candle.open_time_ms])

    async def flush_candles(self) -> None:
        if not self.pending_candles:
            return
        batch, self.pending_candles = list(self.pending_candles.values()), {}
        self.candles_written += await database_sync_to_async(store.candle_upsert_many)(klines=batch)

    # ---- shared state for server-rendered pages ----------------------------------------------------

    async def _poll_tickers(self) -> None:
        try:
            tickers = await self.exchange.tickers()
        except ExchangeError as exc:
            log.warning("market feed: REST tickers failed: %s", exc)
            return
        for ticker in tickers:
            self.state.on_rest_ticker(ticker)
            if ticker.symbol in self.state.symbols:
                self.coalescer.mark(market_group(ticker.symbol))
        # The answer lists every symbol the exchange has now. One the state still holds and it does not
        # list was delisted, or the exchange restarted without it: miniTickers just stop naming it, so
        # only this tells its frozen price from a quiet one. An empty answer is a hiccup, not a market.
        gone = self.state.on_listing({t.symbol for t in tickers}) if tickers else []
        for symbol in gone:
            log.warning("market feed: %s is no longer listed; its ticker and book are unavailable", symbol)
            if symbol in self.state.symbols:
                # The old book stayed "in sync" with nothing more coming: paper orders would fill against
                # it. A fresh one is served nothing until the exchange lists the symbol again.
                self._open_book(symbol)
                self.coalescer.mark(market_group(symbol))
        self.coalescer.mark(ALL_MARKETS_GROUP)

    async def write_snapshot(self) -> None:
        version = self.state.version
        tickers = self.state.tickers_snapshot() if version != self._snapshot_version else None
        books = {s: self.state.book_snapshot(s) for s in self.state.symbols}
        watched = sorted(self.state.symbols)
        await sync_to_async(store.snapshot_write, thread_sensitive=False)(
            tickers=tickers, books=books, watched=watched
        )
        self._snapshot_version = version

    async def heartbeat(self) -> None:
        stamp = timezone.now().isoformat()
        await sync_to_async(cache.set, thread_sensitive=False)(MARKET_FEED_KEY, stamp, 300)
        # When the exchange last sent anything: a silent socket shows as a stale stream in /healthz.
        last = getattr(self.stream, "last_frame_at", 0.0)
        if last:
            seen = timezone.now() - timedelta(seconds=time.monotonic() - last)
            await sync_to_async(cache.set, thread_sensitive=False)(MARKET_STREAM_KEY, seen.isoformat(), 300)
