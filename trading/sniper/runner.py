"""The sniper process (`python manage.py sniper`): asyncio loops over the sync services, and the
armed volleys that send in-memory, pre-built orders at a listing's open.

- arm: listings opening within `SNIPER_ARM_LEAD_S` (or listed with no known time) are armed
  (services/arming.py) in a worker thread; each armed listing gets a `Volley` (volley.py) on warm
  connections of the hub's wire (wire.py: the process's `ExchangeHub` TLS context, clock offset and
  rate limiter; the sniper runs on the hub's loop), which fires on the exchange's clock at the open, on
  the first market-stream frame showing the symbol trading, or on a REST probe seeing it, whichever
  comes first; the bookkeeping runs in a worker thread once the volley has settled;
- stream: depth and deals of every armed symbol, the fastest signal when the time is unknown;
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
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from trading.exchange import errors as xerr
from trading.exchange.events import DepthEvent, DepthSnapshotEvent, TradesEvent
from trading.exchange.hub import ExchangeHub, account_label
from trading.exchange.mexc import MexcExchange
from trading.exchange.mexc_rest import MexcRestClient
from trading.exchange.mexc_ws import MexcStream, Topics
from trading.exchanges import hub, public_client
from trading.sniper.calendar import calendar_fetch
from trading.sniper.models import Listing
from trading.sniper.services.arming import (
    ArmedOrder,
    ArmPlan,
    ShotResult,
    listing_arm,
    listings_to_arm,
    slow_firings_start,
    volley_record,
)
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
from trading.sniper.volley import Shot, Volley, VolleyConfig
from trading.sniper.wire import ORDER_PATH, SignedRequest, Wire, WireError, hub_wire, order_scope

log = logging.getLogger(__name__)


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


def volley_config() -> VolleyConfig:
    return VolleyConfig(
        before_ms=float(settings.SNIPER_WINDOW_BEFORE_MS),
        after_ms=float(settings.SNIPER_WINDOW_AFTER_MS),
        retry_every_ms=float(settings.SNIPER_RETRY_EVERY_MS),
    )


def shot_result(shot: Shot) -> ShotResult:
    body = shot.body if isinstance(shot.body, dict) else {}
    return ShotResult(
        firing_id=shot.firing_id,
        state=shot.state,
        signal=shot.signal,
        attempts=shot.attempts,
        not_open=shot.not_open,
        sent=shot.sent,
        answered=shot.answered,
        status=shot.status,
        code=shot.code,
        message=shot.message,
        exchange_order_id=str(body.get("orderId") or ""),
        rest_cancel=shot.rest,
        rest_status=str(shot.rest_body.get("status") or "") if isinstance(shot.rest_body, dict) else "",
        rest_message=shot.rest_message,
    )


def _signed(wire: Wire, method: str, order: ArmedOrder, params: tuple[tuple[str, str], ...]) -> SignedRequest:
    """`order`'s account's pre-signed `method` on MEXC's /api/v3/order, with `params`."""
    return wire.signed(
        method=method,
        path=ORDER_PATH,
        params=list(params),
        api_key=order.api_key,
        api_secret=order.api_secret,
    )


def _shows_trading(event: object) -> bool:
    if isinstance(event, DepthEvent | DepthSnapshotEvent):
        return bool(event.asks)
    return isinstance(event, TradesEvent) and bool(event.trades)


class Sniper:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.client: MexcRestClient | None = None
        self.refreshed: dict[str, float] = {}
        # This process's name on the firings it arms: a restarted process knows what it did not arm.
        self.owner = uuid.uuid4().hex
        self.hub: ExchangeHub | None = None
        self.wire: Wire | None = None
        self.stream: MexcStream | None = None
        self.volleys: dict[int, Volley] = {}
        self.by_symbol: dict[str, Volley] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recording: dict[int, set[asyncio.Task[Any]]] = {}

    def bind(self) -> ExchangeHub:
        """The process's hub (and its wire), on whose loop the sniper runs."""
        if self.hub is None or self.hub.closed:
            self.hub = hub()
            self.wire = hub_wire(self.hub)
        return self.hub

    async def run(self) -> None:
        h = self.bind()
        if not h.on_hub_loop():
            # Volleys, the market stream that signals them, the hub's sessions, clock and limiter all
            # live on the hub's loop: from a stream frame or the clock to the socket, no thread hop.
            await h.arun(self.run())
            return
        self.client = public_client()
        try:
            await in_thread(firings_resume)()
            loops = [
                self.arm_loop(),
                self.probe_loop(),
                self.watch_loop(),
                self.monitor_loop(),
                self.sync_loop(),
                self.stream_loop(),
            ]
            await asyncio.gather(*loops)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.stream is not None:
                await self.stream.aclose()
            await self.client.aclose()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- arming and volleys ----------------------------------------------------------------------

    async def arm_loop(self) -> None:
        await self._every(float(settings.SNIPER_ARM_EVERY_S), self.arm_once, "arm")

    async def arm_once(self) -> None:
        listings = await in_thread(listings_to_arm)()
        for listing in listings:
            if listing.pk not in self.volleys:
                plan = await in_thread(listing_arm)(listing=listing, owner=self.owner)
                if plan is not None and (plan.orders or plan.slow_firings):
                    await self.arm(plan)
        armable = {listing.pk for listing in listings}
        for listing_id, volley in list(self.volleys.items()):
            if listing_id not in armable and volley.fired_at is None:
                # The listing moved on without a signal here (e.g. exchangeInfo shows it trading).
                volley.trigger("exchange")

    async def arm(self, plan: ArmPlan) -> Volley:
        """Warm a connection per armed order, pre-build each request and start the listing's volley,
        on the hub's loop. The accounts' hub sessions are opened now and kept open until the volley is
        recorded, so the bookkeeping after the send builds no client either."""
        h = self.bind()
        if not h.on_hub_loop():
            return await h.arun(self.arm(plan))
        wire = self.wire
        assert wire is not None
        if wire.clock_age_s() > 30:
            with contextlib.suppress(OSError, WireError, TimeoutError):
                await wire.sync_clock()

        def open_sessions() -> dict[str, MexcExchange]:
            found = {account_label(o.api_key): h.account(o.api_key, o.api_secret) for o in plan.orders}
            for session in found.values():
                h.pin(session)
            return found

        # Building a session costs ~0.7 ms of CPU (its HTTP client): off the loop, where another
        # listing's volley may be about to fire.
        sessions = await asyncio.to_thread(open_sessions)
        conns = await wire.connect_many(len(plan.orders))
        shots = [
            Shot(
                firing_id=order.firing_id,
                api_key=order.api_key,
                request=_signed(wire, "POST", order, order.params),
                scope=order_scope(order.api_key),
                conn=conn,
                cancel=_signed(wire, "DELETE", order, order.cancel_params) if order.cancel_params else None,
            )
            for order, conn in zip(plan.orders, conns, strict=True)
        ]
        slow = list(plan.slow_firings)
        volley = Volley(
            symbol=plan.symbol,
            open_ms=plan.open_ms,
            shots=shots,
            wire=wire,
            config=volley_config(),
            on_settled=lambda v, done: self._settled(plan.listing_id, done),
            on_fired=lambda v: self._start_slow(slow),
        )
        self.volleys[plan.listing_id] = self.by_symbol[plan.symbol] = volley
        if self.stream is None:
            self.stream = MexcStream(str(settings.MEXC_WS_URL))
        await self.stream.subscribe([Topics.depth(plan.symbol), Topics.deals(plan.symbol)])
        self._spawn(self._fly(plan, volley, list(sessions.values())))
        log.info("sniper armed %s: %d orders, %d slow", plan.symbol, len(shots), len(slow))
        return volley

    async def _fly(self, plan: ArmPlan, volley: Volley, sessions: list[MexcExchange]) -> None:
        """Run the volley, then record what it did; the listing stays armed here until recorded, so
        the arm loop never arms its firings a second time."""
        try:
            await volley.run()
            await asyncio.gather(*list(self._recording.get(plan.listing_id, ())), return_exceptions=True)
        finally:
            self.volleys.pop(plan.listing_id, None)
            self.by_symbol.pop(plan.symbol, None)
            self._recording.pop(plan.listing_id, None)
            for shot in volley.shots:
                if shot.conn is not None:
                    shot.conn.close()
            if self.hub is not None:
                for session in sessions:
                    self.hub.pin(session, -1)
            if self.stream is not None and plan.symbol not in self.by_symbol:
                # The symbol's frames were only the volley's signal: the exchange stops pushing them.
                topics = [Topics.depth(plan.symbol), Topics.deals(plan.symbol)]
                self._spawn(self.stream.unsubscribe(topics))

    def _start_slow(self, firing_ids: list[int]) -> None:
        if firing_ids:
            self._spawn(in_thread(slow_firings_start)(firing_ids=firing_ids))

    def _settled(self, listing_id: int, shots: list[Shot]) -> None:
        task = self._spawn(self._record(listing_id, shots))
        self._recording.setdefault(listing_id, set()).add(task)

    async def _record(self, listing_id: int, shots: list[Shot]) -> None:
        results = [shot_result(s) for s in shots]
        try:
            await in_thread(volley_record)(listing_id=listing_id, results=results)
        except Exception:  # the orders are on the exchange; reconcile and the sync loop catch up
            log.exception("sniper: recording the armed orders of listing %s failed", listing_id)

    async def stream_loop(self) -> None:
        """The first depth or deals frame with something in it fires the symbol's volley."""
        while not self.stopping.is_set():
            if self.stream is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 0.2)
                continue
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(self.stream.next_event(), 0.5)
                volley = self.by_symbol.get(getattr(event, "symbol", ""))
                if volley is not None and _shows_trading(event):
                    volley.trigger("stream")

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
        await self._every(float(settings.SNIPER_PROBE_MS) / 1000, self.probe_once, "probe")

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
        armed = self.volleys.get(listing.pk)
        if armed is not None:
            # Armed: the book is only a signal; the volley sends and the bookkeeping moves the listing.
            if shows_trading:
                armed.trigger("rest")
            return
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
            if time.monotonic() - last_calendar > float(settings.SNIPER_CALENDAR_EVERY_S):
                last_calendar = time.monotonic()
                coins = await in_thread(calendar_fetch)()
                if coins:
                    await in_thread(listings_from_calendar)(coins=coins)
            opened = await in_thread(listings_from_symbols)()
            for listing in opened:
                if (armed := self.volleys.get(listing.pk)) is not None:
                    armed.trigger("exchange")
                    continue
                claimed = await in_thread(listing_claim)(listing=listing)
                await fire([f.pk for f in claimed])

        await self._every(float(settings.SNIPER_WATCH_EVERY_S), step, "watch")

    async def monitor_loop(self) -> None:
        await self._every(monitor_interval(), in_thread(monitor_tick), "monitor")

    async def sync_loop(self) -> None:
        async def step() -> None:
            await in_thread(positions_sync)()
            await in_thread(firings_resume)()

        await self._every(2.0, step, "sync")
