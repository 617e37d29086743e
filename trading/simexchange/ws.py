"""The /ws endpoint: JSON control frames in, JSON acks and binary protobuf pushes out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from trading.simexchange import frames
from trading.simexchange.accounts import Account
from trading.simexchange.candles import WS_INTERVALS
from trading.simexchange.engine import BalanceEvent, Event, OrderEvent

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

TIMEZONES = (
    "24H|UTC-10|UTC-8|UTC-7|UTC-6|UTC-5|UTC-4|UTC-3|UTC\\+0|UTC\\+1|UTC\\+2|UTC\\+3|UTC\\+4|UTC\\+4:30|UTC\\+5"
    "|UTC\\+5:30|UTC\\+6|UTC\\+7|UTC\\+8|UTC\\+9|UTC\\+10|UTC\\+11|UTC\\+12|UTC\\+12:45|UTC\\+13"
)
INTERVALS = "|".join(WS_INTERVALS)
# Note where the symbol sits: after the interval on aggre.* channels, first on the others.
CHANNELS = [
    ("deals", re.compile(r"^spot@public\.aggre\.deals\.v3\.api\.pb@(?P<arg>100ms|10ms)@(?P<sym>[A-Z0-9]+)$")),
    ("depth", re.compile(r"^spot@public\.aggre\.depth\.v3\.api\.pb@(?P<arg>100ms|10ms)@(?P<sym>[A-Z0-9]+)$")),
    (
        "bookTicker",
        re.compile(r"^spot@public\.aggre\.bookTicker\.v3\.api\.pb@(?P<arg>100ms|10ms)@(?P<sym>[A-Z0-9]+)$"),
    ),
    ("bookTickerBatch", re.compile(r"^spot@public\.bookTicker\.batch\.v3\.api\.pb@(?P<sym>[A-Z0-9]+)$")),
    ("kline", re.compile(rf"^spot@public\.kline\.v3\.api\.pb@(?P<sym>[A-Z0-9]+)@(?P<arg>{INTERVALS})$")),
    (
        "limitDepth",
        re.compile(r"^spot@public\.limit\.depth\.v3\.api\.pb@(?P<sym>[A-Z0-9]+)@(?P<arg>5|10|20)$"),
    ),
    (
        "miniTicker",
        re.compile(rf"^spot@public\.miniTicker\.v3\.api\.pb@(?P<sym>[A-Z0-9]+)@(?P<arg>{TIMEZONES})$"),
    ),
    ("miniTickers", re.compile(rf"^spot@public\.miniTickers\.v3\.api\.pb@(?P<arg>{TIMEZONES})$")),
    ("private", re.compile(r"^spot@private\.(?P<arg>account|deals|orders)\.v3\.api\.pb$")),
]
INVALID_LISTEN_KEY = "Invalid listen key"


@dataclass(frozen=True)
class Topic:
    name: str
    kind: str
    symbol: str | None
    arg: str | None

    @property
    def event_type(self) -> str:
        return self.name.rsplit("@", 1)[0]


def parse_topic(name: str) -> Topic | None:
    for kind, pattern in CHANNELS:
        found = pattern.match(name)
        if found:
            groups = found.groupdict()
            return Topic(name, kind, groups.get("sym"), groups.get("arg"))
    return None


def refusal(topics: list[str], reason: str) -> str:
    # Exact shape seen live (Mexc.Net#35): a full-width colon and two spaces after "].".
    return f"Not Subscribed successfully! [{','.join(topics)}].  Reason\uff1a {reason}"


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    account: Account | None
    listen_key: str | None
    topics: dict[str, Topic] = field(default_factory=dict)
    outbox: asyncio.Queue[bytes | str | None] = field(default_factory=asyncio.Queue)
    last_heard: float = field(default_factory=time.monotonic)
    idle_since: float = field(default_factory=time.monotonic)
    recent: deque[float] = field(default_factory=deque)
    # Muted: the socket stays open but nothing reaches the client any more (not even PONGs), the way a
    # half-dead network path looks from the client's side.
    muted: bool = False

    def push(self, frame: bytes | str) -> None:
        if not self.muted:
            self.outbox.put_nowait(frame)


@dataclass
class DepthFeed:
    """What subscribers have been told about one book, so each push carries only changed levels."""

    pushed_version: int = 0
    told: dict[str, dict[Any, Any]] = field(default_factory=lambda: {"BUY": {}, "SELL": {}})
    best: tuple[Any, Any] | None = None
    limit_version: int = 0


class Hub:
    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim
        self.connections: set[Connection] = set()
        self.subscribers: dict[str, set[Connection]] = {}
        self.depth_feeds: dict[str, DepthFeed] = {}
        self.frames_sent = 0

    # --- connection lifecycle ------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        listen_key = request.query.get("listenKey")
        account = None
        if listen_key is not None:
            account = self.sim.registry.listen_key_account(listen_key, self.sim.now())
            if account is None:
                await ws.send_str(INVALID_LISTEN_KEY)
                await ws.close()
                return ws
        conn = Connection(ws, request, account, listen_key)
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        watchdog = asyncio.create_task(self._watchdog(conn))
        try:
            await self._reader(conn)
        finally:
            self._forget(conn)
            conn.outbox.put_nowait(None)
            watchdog.cancel()
            await asyncio.gather(writer, watchdog, return_exceptions=True)
            await ws.close()
        return ws

    async def _reader(self, conn: Connection) -> None:
        async for message in conn.ws:
            if message.type != WSMsgType.TEXT:
                continue
            now = time.monotonic()
            conn.last_heard = now
            conn.recent.append(now)
            while conn.recent and conn.recent[0] < now - 1:
                conn.recent.popleft()
            if len(conn.recent) > self.sim.config.ws_max_messages_per_second:
                return
            self._on_text(conn, message.data)

    async def _writer(self, conn: Connection) -> None:
        while (frame := await conn.outbox.get()) is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                if isinstance(frame, bytes):
                    await conn.ws.send_bytes(frame)
                    self.frames_sent += 1
                else:
                    await conn.ws.send_str(frame)

    async def _watchdog(self, conn: Connection) -> None:
        config = self.sim.config
        while not conn.ws.closed:
            await asyncio.sleep(min(1.0, config.ws_idle_seconds / 4))
            now = time.monotonic()
            idle = not conn.topics and now - conn.idle_since > config.ws_idle_seconds
            silent = conn.topics and now - conn.last_heard > config.ws_silent_seconds
            if idle or silent:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY)
                return

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for name in conn.topics:
            self.subscribers.get(name, set()).discard(conn)

    async def disconnect_all(self, *, abrupt: bool = False) -> int:
        """Drops every WebSocket; ``abrupt`` cuts the TCP connection without a close frame."""
        victims = list(self.connections)
        for conn in victims:
            transport = conn.request.transport
            if abrupt and transport is not None:
                transport.abort()
            else:
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulated disconnect")
        return len(victims)

    def silence_all(self) -> int:
        """Every open socket goes silent without a close frame; sockets opened later are normal."""
        for conn in self.connections:
            conn.muted = True
        return len(self.connections)

    def drop_listen_key(self, key: str) -> None:
        for conn in list(self.connections):
            if conn.listen_key == key:
                asyncio.get_running_loop().create_task(conn.ws.close())

    # --- control messages ----------------------------------------------------------------------
    def _on_text(self, conn: Connection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        method = str(message.get("method", "")).upper()
        ident = message.get("id") or 0
        params = [str(p) for p in message.get("params") or []]
        if method == "PING":
            conn.push(json.dumps({"id": ident, "code": 0, "msg": "PONG"}))
        elif method == "SUBSCRIPTION":
            self._subscribe(conn, ident, params)
        elif method == "UNSUBSCRIPTION":
            self._unsubscribe(conn, ident, params)

    def _subscribe(self, conn: Connection, ident: Any, names: list[str]) -> None:
        accepted: list[str] = []
        refused: dict[str, list[str]] = {}
        for name in names:
            reason = self._admit(conn, name)
            if reason is None:
                accepted.append(name)
            else:
                refused.setdefault(reason, []).append(name)
        if accepted:
            conn.push(json.dumps({"id": ident, "code": 0, "msg": ",".join(accepted)}))
        for reason, topics in refused.items():
            conn.push(
                json.dumps({"id": ident, "code": 0, "msg": refusal(topics, reason)}, ensure_ascii=False)
            )

    def _admit(self, conn: Connection, name: str) -> str | None:
        """Subscribes ``conn`` to ``name``; returns the refusal reason instead when it cannot."""
        topic = parse_topic(name)
        if topic is None:
            return "Blocked!"
        if name in conn.topics:
            return None
        if len(conn.topics) >= self.sim.config.ws_max_subscriptions:
            return "Exceeded the maximum of 30 subscriptions"
        if topic.kind == "private" and conn.account is None:
            return "Blocked!"
        if topic.symbol is not None:
            sym = self.sim.market.get(topic.symbol)
            if sym is None:
                return "Invalid symbol"
            self.sim.engine.activate(sym, self.sim.now())
        conn.topics[name] = topic
        self.subscribers.setdefault(name, set()).add(conn)
        return None

    def _unsubscribe(self, conn: Connection, ident: Any, names: list[str]) -> None:
        for name in names:
            conn.topics.pop(name, None)
            self.subscribers.get(name, set()).discard(conn)
        if not conn.topics:
            conn.idle_since = time.monotonic()
        conn.push(json.dumps({"id": ident, "code": 0, "msg": ",".join(names)}))

    # --- pushes --------------------------------------------------------------------------------
    def topics_of(self, kind: str) -> list[Topic]:
        found = []
        for name, conns in self.subscribers.items():
            if conns:
                topic = next(iter(conns)).topics[name]
                if topic.kind == kind:
                    found.append(topic)
        return found

    def publish(self, name: str, frame: bytes) -> None:
        for conn in self.subscribers.get(name, ()):
            conn.push(frame)

    def on_event(self, event: Event) -> None:
        """Private pushes for engine events, to the account's listen-key connections that asked for them."""
        if isinstance(event, BalanceEvent):
            channel = frames.PRIVATE_ACCOUNT
        elif isinstance(event, OrderEvent):
            channel = frames.PRIVATE_ORDERS
        else:
            channel = frames.PRIVATE_DEALS
        # Four or more events per order: nothing is worked out for a channel nobody listens to.
        listeners = [c for c in self.subscribers.get(channel, ()) if c.account is event.account]
        if not listeners:
            return
        now = self.sim.now()
        if isinstance(event, BalanceEvent):
            frame = frames.private_account(event, now)
        elif isinstance(event, OrderEvent):
            frame = frames.private_order(event, now)
        else:
            frame = frames.private_deal(event.trade, now)
        for conn in listeners:
            conn.push(frame)
