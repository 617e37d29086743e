"""MEXC WebSocket streams: batched subscriptions over as many connections as the 30-topic cap needs,
JSON PING keep-alive, reconnect with backoff and resubscribe, rotation before MEXC's 24 h cut."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from trading.exchange.events import StreamEvent, StreamReconnected, SubscriptionRefused
from trading.exchange.parsing import WS_INTERVALS
from trading.exchange.ws_decode import decode_frame

log = logging.getLogger(__name__)

DEFAULT_WS_URL = "wss://wbs-api.mexc.com/ws"
MAX_TOPICS_PER_CONNECTION = 30
_REFUSED_MARKER = "Not Subscribed successfully"


def _public(channel: str, *parts: str) -> str:
    """One public topic: `spot@public.<channel>.v3.api.pb@<part>@<part>...`."""
    return "@".join((f"spot@public.{channel}.v3.api.pb", *parts))


class Topics:
    """Channel names. Note where the symbol goes: aggre.* put the interval before it, the others after."""

    ORDERS = "spot@private.orders.v3.api.pb"
    DEALS = "spot@private.deals.v3.api.pb"
    ACCOUNT = "spot@private.account.v3.api.pb"
    PRIVATE = (ORDERS, DEALS, ACCOUNT)

    @staticmethod
    def deals(symbol: str, speed: str = "100ms") -> str:
        return _public("aggre.deals", speed, symbol.upper())

    @staticmethod
    def depth(symbol: str, speed: str = "100ms") -> str:
        return _public("aggre.depth", speed, symbol.upper())

    @staticmethod
    def book_ticker(symbol: str, speed: str = "100ms") -> str:
        return _public("aggre.bookTicker", speed, symbol.upper())

    @staticmethod
    def limit_depth(symbol: str, levels: int = 20) -> str:
        return _public("limit.depth", symbol.upper(), str(levels))

    @staticmethod
    def kline(symbol: str, interval: str = "1m") -> str:
        return _public("kline", symbol.upper(), WS_INTERVALS.get(interval, interval))

    @staticmethod
    def mini_ticker(symbol: str, timezone: str = "24H") -> str:
        return _public("miniTicker", symbol.upper(), timezone)

    @staticmethod
    def mini_tickers(timezone: str = "24H") -> str:
        return _public("miniTickers", timezone)


@dataclass
class StreamConfig:
    topics_per_connection: int = MAX_TOPICS_PER_CONNECTION
    ping_interval_s: float = 20.0
    # Liveness: after `idle_ping_s` without any frame a PING goes out at once; if nothing at all (not
    # even the PONG) arrives within `pong_timeout_s` of it, the socket is dead though never closed:
    # it is dropped and reopened, and its topics resubscribed (silence to new socket < 5 s).
    idle_ping_s: float = 1.5
    pong_timeout_s: float = 1.5
    liveness_check_s: float = 0.25
    # MEXC cuts every connection at 24 h; rotate a little earlier, on our own terms.
    max_age_s: float = 23.5 * 3600
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    queue_size: int = 100_000
    open_timeout_s: float = 10.0
    # Frames this large (the all-symbols ticker frame: ~2,000 rows, ~30 ms to decode) are decoded on
    # the stream's own thread, so the event loop (in the live process, every browser socket's) keeps
    # turning; smaller ones decode inline, where a thread hand-over would cost more than the decode.
    offload_decode_bytes: int = 16_384


def refused_topics(requested: Iterable[str], msg: str) -> dict[str, str]:
    """Topics MEXC did not accept, with its reason. The reply `code` is not trustworthy: a refusal
    can come with code 0, so compare the accepted list in `msg` with what was asked for."""
    accepted = {t.strip() for t in msg.split(",")}
    # MEXC writes "Reason\uff1a Blocked!" with a full-width colon.
    reason = msg.split("Reason", 1)[1].lstrip(":\uff1a ").strip() if "Reason" in msg else "not accepted"
    return {t: reason for t in requested if t not in accepted}


class _Connection:
    """One socket carrying up to `topics_per_connection` topics, reconnecting until closed."""

    def __init__(self, stream: MexcStream, index: int) -> None:
        self.stream = stream
        self.index = index
        self.topics: set[str] = set()
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self._pending: dict[int, tuple[str, ...]] = {}
        self._ids = itertools.count(1)
        self._rotate = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None
        self.last_heard = time.monotonic()

    @property
    def cfg(self) -> StreamConfig:
        return self.stream.config

    async def run(self) -> None:
        attempt = 0
        first = True
        while not self.stream.closed:
            try:
                url = await self.stream.url_factory()
                async with connect(
                    url, ping_interval=None, open_timeout=self.cfg.open_timeout_s, proxy=None, max_size=2**22
                ) as ws:
                    self.ws = ws
                    await self._subscribe_all(ws)
                    if not first:
                        self.stream.reconnects += 1
                        self.stream.emit(StreamReconnected(topics=tuple(sorted(self.topics))))
                    first, attempt = False, 0
                    await self._serve(ws)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                log.info("mexc ws connection %s lost: %r", self.index, exc)
            except Exception:
                # A bad frame or a bug must not end the feed for good: log, back off, reconnect.
                log.exception("mexc ws connection %s failed", self.index)
            finally:
                self.ws = None
            if self.stream.closed:
                return
            if self._rotate.is_set():
                self._rotate.clear()
                continue
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1
            first = False

    def _backoff(self, attempt: int) -> float:
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_initial_s * 2.0**attempt)
        return delay * (0.5 + random.random() / 2)

    async def _serve(self, ws: ClientConnection) -> None:
        pinger = asyncio.create_task(self._ping(ws))
        try:
            async with asyncio.timeout(self.cfg.max_age_s):
                await self._read(ws)
        except TimeoutError:
            self._rotate.set()
            self.stream.rotations += 1
        finally:
            pinger.cancel()
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            self.last_heard = self.stream.last_frame_at = time.monotonic()
            if isinstance(frame, bytes):
                self.stream.frames += 1
                for event in await self.stream.decode_frame(frame):
                    self.stream.emit(event)
            else:
                self._control(frame)

    async def _ping(self, ws: ClientConnection) -> None:
        """Keep-alive and liveness. MEXC closes a quiet connection after 60 s; its keep-alive is a JSON
        PING, not a WS ping. A socket that goes silent without a close frame is only noticed by a
        deadline: a PING unanswered (nothing heard at all) for `pong_timeout_s` aborts it."""
        cfg = self.cfg
        self.last_heard = sent_at = time.monotonic()
        waiting = False
        while True:
            await asyncio.sleep(cfg.liveness_check_s)
            now = time.monotonic()
            if waiting and self.last_heard < sent_at and now - sent_at >= cfg.pong_timeout_s:
                self.stream.silences += 1
                log.warning(
                    "mexc ws connection %s silent for %.1f s; reconnecting", self.index, now - self.last_heard
                )
                if ws.transport is not None:
                    ws.transport.abort()
                return
            waiting = waiting and self.last_heard < sent_at
            quiet = now - self.last_heard >= cfg.idle_ping_s
            if not waiting and (quiet or now - sent_at >= cfg.ping_interval_s):
                sent_at, waiting = now, True
                await ws.send('{"method":"PING"}')

    def _control(self, text: str) -> None:
        try:
            reply = json.loads(text)
        except ValueError:
            # A private socket with a stale key gets the bare text "Invalid listen key".
            log.warning("mexc ws text frame: %s", text[:200])
            self.stream.control_messages.append(text)
            if self.stream.on_text is not None:
                self.stream.on_text(text)
            return
        msg = str(reply.get("msg", "")) if isinstance(reply, dict) else ""
        if msg == "PONG":
            self.stream.pongs += 1
            return
        requested = self._pending.pop(int(reply.get("id") or 0), None)
        if requested is None and _REFUSED_MARKER in msg:
            requested = tuple(t for t in self.topics if t in msg)
        for topic, reason in refused_topics(requested or (), msg).items():
            self.topics.discard(topic)
            self.stream.emit(SubscriptionRefused(topic=topic, reason=reason))
        if requested is not None and not self._pending:
            self.stream.answered.set()

    async def _subscribe_all(self, ws: ClientConnection) -> None:
        if self.topics:
            await self.send_subscription(ws, sorted(self.topics))

    async def send_subscription(
        self, ws: ClientConnection, batch: list[str], method: str = "SUBSCRIPTION"
    ) -> None:
        request_id = next(self._ids)
        if method == "SUBSCRIPTION":
            self._pending[request_id] = tuple(batch)
        await ws.send(json.dumps({"method": method, "params": batch, "id": request_id}))

    def rotate(self) -> None:
        """Close and reopen now (what the 24 h cut would force); used by tests and on stale keys."""
        self._rotate.set()
        if self.ws is not None:
            self._closing = asyncio.create_task(self.ws.close())


class MexcStream:
    """Decoded events from one or more MEXC sockets. Iterate `events()`; subscribe at any time."""

    def __init__(
        self,
        url: str = DEFAULT_WS_URL,
        *,
        config: StreamConfig | None = None,
        url_factory: Callable[[], Awaitable[str]] | None = None,
        decode: Callable[[bytes], list[StreamEvent]] = decode_frame,
    ) -> None:
        self.config = config or StreamConfig()
        self.decode = decode
        # One thread, so frames decoded there come back in the order they arrived.
        self._decoder: ThreadPoolExecutor | None = None
        self.url_factory = url_factory or self._static_url(url)
        self.closed = False
        self._conns: list[_Connection] = []
        self._queue: asyncio.Queue[StreamEvent] = asyncio.Queue(self.config.queue_size)
        self.frames = self.reconnects = self.rotations = self.pongs = self.dropped = self.silences = 0
        # time.monotonic() of the last frame any connection received (0.0: none yet).
        self.last_frame_at = 0.0
        self.control_messages: list[str] = []
        self.on_text: Callable[[str], None] | None = None
        # Set once MEXC has answered every subscription request sent so far.
        self.answered = asyncio.Event()

    @staticmethod
    def _static_url(url: str) -> Callable[[], Awaitable[str]]:
        async def factory() -> str:
            return url

        return factory

    @property
    def topics(self) -> set[str]:
        return set().union(*(c.topics for c in self._conns))

    @property
    def connections(self) -> int:
        return len(self._conns)

    def emit(self, event: StreamEvent) -> None:
        # A slow consumer must not stall the socket: drop the oldest; order books notice the version gap.
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def subscribe(self, wanted: Iterable[str]) -> None:
        fresh = [t for t in dict.fromkeys(wanted) if t not in self.topics]
        if fresh:
            self.answered.clear()
        by_conn: dict[_Connection, list[str]] = {}
        for topic in fresh:
            conn = self._conn_with_room()
            conn.topics.add(topic)
            by_conn.setdefault(conn, []).append(topic)
        for conn, batch in by_conn.items():
            if conn.task is None:
                conn.task = asyncio.create_task(conn.run())
            elif conn.ws is not None:
                await conn.send_subscription(conn.ws, batch)

    async def unsubscribe(self, unwanted: Iterable[str]) -> None:
        for conn in self._conns:
            batch = [t for t in unwanted if t in conn.topics]
            conn.topics.difference_update(batch)
            if batch and conn.ws is not None:
                await conn.send_subscription(conn.ws, batch, method="UNSUBSCRIPTION")

    def _conn_with_room(self) -> _Connection:
        for conn in self._conns:
            if len(conn.topics) < self.config.topics_per_connection:
                return conn
        conn = _Connection(self, len(self._conns))
        self._conns.append(conn)
        return conn

    async def wait_subscribed(self) -> None:
        """Until MEXC has answered the subscriptions sent so far (accepted or refused)."""
        await self.answered.wait()

    def rotate_all(self) -> None:
        for conn in self._conns:
            conn.rotate()

    async def next_event(self) -> StreamEvent:
        return await self._queue.get()

    def drain(self, limit: int = 500) -> list[StreamEvent]:
        """Events already queued (up to `limit`), without waiting: lets a consumer apply a burst at
        once instead of one by one."""
        found: list[StreamEvent] = []
        while len(found) < limit and not self._queue.empty():
            found.append(self._queue.get_nowait())
        return found

    async def events(self) -> AsyncIterator[StreamEvent]:
        while not self.closed:
            yield await self._queue.get()

    async def decode_frame(self, frame: bytes) -> list[StreamEvent]:
        if len(frame) < self.config.offload_decode_bytes:
            return self.decode(frame)
        if self._decoder is None:
            self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mexc-decode")
        return await asyncio.get_running_loop().run_in_executor(self._decoder, self.decode, frame)

    async def aclose(self) -> None:
        self.closed = True
        tasks = [c.task for c in self._conns if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._decoder is not None:
            self._decoder.shutdown(wait=False, cancel_futures=True)
            self._decoder = None

    async def __aenter__(self) -> MexcStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
