"""One exchange hub per process: long-lived MEXC sessions that every caller shares.

    hub = ExchangeHub(base_url=..., ws_url=...)
    hub.run(hub.public().depth("BTCUSDT"))                 # from sync code (a Django view, a task)
    await hub.arun(hub.account(key, secret).balances())    # from any event loop
    market = hub.proxy(hub.public())                        # an `Exchange` usable from any loop

What the hub owns, and why (ENGINE.md, issue 12):

- **One event loop thread.** Every session, its keep-alive connections, the rate limiter and the
  user-data streams live on that loop, so their state is touched by one thread only. Sync callers
  (Django runs sync views in threads) block on `run`; async callers on other loops (Channels
  consumers, the feed) await `arun` or a `proxy`, which hop onto the hub loop and back.
- **One TLS context**, built once (an `ssl.SSLContext` costs ~20 ms of CPU) and shared by every
  session's HTTP client.
- **One public session** (`public()`) and **one session per API key** (`account()`), each a
  persistent `MexcExchange` with keep-alive; account sessions idle for `idle_s` are dropped (their
  user-data stream, if any, keeps them). The secret stays inside the session; sessions are keyed by
  a SHA-256 label of the key, which is safe to log.
- **One clock offset** (`ServerClock`), measured at start and refreshed every `clock_refresh_s` in
  the background (the best of 3 round trips), so no signed call waits for GET /api/v3/time.
- **One weight-aware limiter** (`RateLimiter`): the IP budget for public calls and one budget per
  account for signed calls. A 429 pauses its scope for Retry-After; a 418 stops every call until the
  ban ends (`IpBanned` is raised locally, nothing is sent). `on_block` tells the process (pages,
  /healthz, operators' inbox). With a `SharedBudget` (Redis) the budget is shared across processes.

The hub is Django-free; `trading/exchanges.py` builds the process's hub from settings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from trading.exchange.errors import ExchangeError
from trading.exchange.mexc import MexcExchange
from trading.exchange.mexc_rest import DEFAULT_BASE_URL, ServerClock
from trading.exchange.mexc_ws import DEFAULT_WS_URL, StreamConfig
from trading.exchange.ratelimit import RateLimiter
from trading.exchange.types import OrderRequest, OrderState

log = logging.getLogger(__name__)
T = TypeVar("T")


def account_label(api_key: str) -> str:
    """A stable, non-secret name for an API key (12 hex digits of its SHA-256)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class HubStatus:
    """What the hub knows of its standing with the exchange, for /healthz and the pages."""

    banned_for_s: float
    paused_for_s: float
    clock_offset_ms: int | None
    clock_age_s: float | None
    sessions: int
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """ "banned" (418), "rate_limited" (429 pause), or "ok"."""
        if self.banned_for_s > 0:
            return "banned"
        return "rate_limited" if self.paused_for_s > 0 else "ok"


@dataclass
class _Account:
    session: MexcExchange
    last_used: float
    pinned: int = 0  # user-data streams holding the session open


class ExchangeHub:
    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        ws_url: str = DEFAULT_WS_URL,
        limiter: RateLimiter | None = None,
        stream_config: StreamConfig | None = None,
        clock_refresh_s: float = 30.0,
        idle_s: float = 900.0,
        retry_delay_s: float = 0.2,
        on_block: Callable[[str, float], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.ws_url = ws_url
        self.limiter = limiter or RateLimiter()
        self.limiter.on_block = self._blocked
        self.on_block = on_block
        self.stream_config = stream_config
        self.clock = ServerClock()
        self.clock_refresh_s = clock_refresh_s
        self.idle_s = idle_s
        self.retry_delay_s = retry_delay_s
        self._ssl: ssl.SSLContext | None = None
        self._public: MexcExchange | None = None
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._background: list[asyncio.Task[None]] = []
        self.ssl_builds = 0
        self.closed = False

    # ---- the loop ---------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The hub's event loop, started in a daemon thread on first use."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the exchange hub is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                loop.call_soon(ready.set)
                self._thread = threading.Thread(target=loop.run_forever, name="exchange-hub", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
                # Not waited for: the background tasks take this lock themselves.
                loop.call_soon_threadsafe(self._start_background)
            return self._loop

    def on_hub_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the hub loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run `coro` on the hub loop and wait for it (sync callers; never from the hub loop itself)."""
        if self.on_hub_loop():
            coro.close()
            raise RuntimeError("ExchangeHub.run() called on the hub loop; await hub.arun() there")
        return self.submit(coro).result(timeout)

    async def arun(self, coro: Awaitable[T]) -> T:
        """Await `coro` on the hub loop from any event loop (directly when already on it)."""
        if self.on_hub_loop():
            return await coro

        async def wrapped() -> T:
            return await coro

        return await asyncio.wrap_future(self.submit(wrapped()))

    # ---- sessions ---------------------------------------------------------------------------------

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The process's one TLS context (certifi's roots, as httpx builds by default)."""
        with self._lock:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
                self.ssl_builds += 1
            return self._ssl

    def _session(self, api_key: str = "", api_secret: str = "", account: str = "") -> MexcExchange:
        return MexcExchange(
            base_url=self.base_url,
            ws_url=self.ws_url,
            api_key=api_key,
            api_secret=api_secret,
            account=account,
            limiter=self.limiter,
            server_clock=self.clock,
            ssl_context=self.ssl_context,
            stream_config=self.stream_config,
            retry_delay_s=self.retry_delay_s,
        )

    def public(self) -> MexcExchange:
        """The process's public (unsigned) session."""
        with self._lock:
            if self._public is None:
                self._public = self._session()
            return self._public

    def account(self, api_key: str, api_secret: str) -> MexcExchange:
        """The session of one API key, created on first use."""
        label = account_label(api_key)
        with self._lock:
            entry = self._accounts.get(label)
            if entry is None or entry.session._secret != api_secret:
                entry = _Account(self._session(api_key, api_secret, label), time.monotonic())
                self._accounts[label] = entry
            entry.last_used = time.monotonic()
            return entry.session

    def pin(self, session: MexcExchange, delta: int = 1) -> None:
        """Keep an account session from idling out while a stream uses it (`delta=-1` releases)."""
        with self._lock:
            entry = self._accounts.get(session.account)
            if entry is not None:
                entry.pinned = max(0, entry.pinned + delta)

    def proxy(self, session: MexcExchange, *, confirm_reads: bool | None = None) -> SessionProxy:
        """`session` as an `Exchange` that any event loop can await (calls hop onto the hub loop)."""
        return SessionProxy(self, session, confirm_reads=confirm_reads)

    def owns(self, exchange: object) -> bool:
        return isinstance(exchange, SessionProxy) and exchange.hub is self

    # ---- state ------------------------------------------------------------------------------------

    def _blocked(self, kind: str, seconds: float) -> None:
        log.warning("MEXC %s: every call waits %.0f s", "banned this IP (418)" if kind == "banned" else
                    "rate limited (429)", seconds)  # fmt: skip
        if self.on_block is not None:
            try:
                self.on_block(kind, seconds)
            except Exception:
                log.exception("on_block hook failed")

    def status(self) -> HubStatus:
        sessions = [s for s in (self._public, *(a.session for a in self._accounts.values())) if s]
        requests: Counter[str] = Counter()
        for session in sessions:
            requests.update(session.sent)
        synced = self.clock.synced_at
        return HubStatus(
            banned_for_s=round(self.limiter.banned_for, 1),
            paused_for_s=round(self.limiter.paused_for, 1),
            clock_offset_ms=self.clock.offset_ms,
            clock_age_s=round(time.time() - synced, 1) if synced else None,
            sessions=len(sessions),
            requests=dict(requests),
        )

    def requests_sent(self) -> int:
        return sum(self.status().requests.values())

    # ---- background -------------------------------------------------------------------------------

    def _start_background(self) -> None:
        loop = asyncio.get_running_loop()
        self._background = [loop.create_task(self._refresh_clock()), loop.create_task(self._reap_idle())]

    async def _refresh_clock(self) -> None:
        while True:
            if self.limiter.banned_for <= 0:
                try:
                    await self.public().sync_time(samples=3)
                except ExchangeError as exc:
                    log.info("clock offset not refreshed: %s", exc)
                except Exception:
                    log.exception("clock offset refresh failed")
            await asyncio.sleep(self.clock_refresh_s)

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.idle_s))
            cutoff = time.monotonic() - self.idle_s
            with self._lock:
                idle = [k for k, a in self._accounts.items() if a.last_used < cutoff and not a.pinned]
                dropped = [self._accounts.pop(k).session for k in idle]
            for session in dropped:
                with contextlib.suppress(Exception):
                    await session.aclose()

    def close(self) -> None:
        """Close every session and stop the loop (process shutdown, tests)."""
        with self._lock:
            loop, self._loop = self._loop, None
            self.closed = True
        if loop is None:
            return

        async def shutdown() -> None:
            for task in self._background:
                task.cancel()
            sessions = [s for s in (self._public, *(a.session for a in self._accounts.values())) if s]
            for session in sessions:
                with contextlib.suppress(Exception):
                    await session.aclose()
            if self.limiter.shared is not None:
                with contextlib.suppress(Exception):
                    await self.limiter.shared.aclose()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)


if TYPE_CHECKING:
    # To the type checker a proxy is the session it forwards to: every coroutine method keeps its
    # signature, only where it runs changes.
    _ProxyBase = MexcExchange
else:
    _ProxyBase = object


class SessionProxy(_ProxyBase):
    """A hub session seen from another event loop: every coroutine method runs on the hub loop.

    Satisfies `trading.exchange.base.Exchange` (through the session it wraps); `aclose()` is a no-op,
    because the hub, not the caller, owns the session. Async generators (`user_events`) are not
    forwarded: run streams on the hub loop (`hub.submit`)."""

    def __init__(self, hub: ExchangeHub, session: MexcExchange, *, confirm_reads: bool | None) -> None:
        self.hub = hub
        self.session = session
        self._confirm_override = confirm_reads

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.session, name)
        if not asyncio.iscoroutinefunction(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.hub.arun(target(*args, **kwargs))

        return call

    async def place_order(self, request: OrderRequest, *, confirm: bool | None = None) -> OrderState:
        confirm = self._confirm_override if confirm is None else confirm
        return await self.hub.arun(self.session.place_order(request, confirm=confirm))

    async def aclose(self) -> None:
        return None
