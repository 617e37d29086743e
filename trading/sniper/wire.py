"""The sniper's wire: warm keep-alive connections that put pre-signed order requests on the socket.

It is the process's `ExchangeHub` (trading/exchange/hub.py) seen from the send path: `hub_wire(hub)`
gives the hub's one TLS context, its server-clock offset (`ServerClock`, refreshed in the hub's
background and re-measured here before a window) and its rate limiter (the account's budget for
POST /api/v3/order, the 429 pause and the 418 ban that stop every caller of the process). It runs on
the hub's loop, like the hub's sessions; the account sessions themselves are warmed and kept open by
the runner for the bookkeeping after the send.

Why not the httpx client: handing a request to httpx costs 100-300 us of Python per request (URL and
header objects, pool checkout, h11 state); a volley of 100 orders pays that 100 times before the last
one leaves. Here a request is bytes prepared at arming time except its timestamp and signature, and
the HMAC state over the fixed part of the query is computed once too: at the signal, each send is a
`copy()` of that state, 13 digits, a hex digest and one `transport.write`.

Plain Python, no Django: the runner feeds it settings and plain values.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import ssl
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from trading.exchange.errors import IpBanned
from trading.exchange.hub import ExchangeHub, account_label
from trading.exchange.mexc_rest import ServerClock
from trading.exchange.ratelimit import RateLimiter, Scope, weight_of
from trading.exchange.signing import Param, encode_query

ORDER_PATH = "/api/v3/order"


class WireError(Exception):
    """The connection failed or closed before the answer came: the request's outcome is unknown."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: float | None
    # Local epoch seconds when the last byte of the answer arrived.
    received: float

    def json(self) -> Any:
        return self._parsed

    @functools.cached_property
    def _parsed(self) -> Any:
        # Parsed once: the volley reads the body, its code and its message of every answer.
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def code(self) -> int | None:
        """MEXC's error code from a `{code, msg}` body, else None."""
        body = self.json()
        code = body.get("code") if isinstance(body, dict) else None
        try:
            return int(code) if code is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def message(self) -> str:
        body = self.json()
        return str(body.get("msg") or "") if isinstance(body, dict) else self.body[:200].decode("latin-1")


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes | None, int]:
    """A chunked body from `start`: (body, bytes used), or (None, 0) while it is incomplete."""
    body = bytearray()
    pos = start
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            return None, 0
        size = int(bytes(buffer[pos:line_end]).split(b";")[0].strip() or b"0", 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", pos - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else (None, 0)
        if len(buffer) < pos + size + 2:
            return None, 0
        body += buffer[pos : pos + size]
        pos += size + 2


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 client side of one connection: requests are written whole, answers parsed in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: deque[asyncio.Future[Answer]] = deque()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(WireError(f"connection lost ({exc!r})"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.waiting and (answer := self._parse()) is not None:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(answer)

    def _parse(self) -> Answer | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body, used = _dechunk(self.buffer, end + 4)
            if body is None:
                return None
        else:
            length = int(headers.get("content-length") or 0)
            used = end + 4 + length
            if len(self.buffer) < used:
                return None
            body = bytes(self.buffer[end + 4 : used])
        del self.buffer[:used]
        if headers.get("connection", "").lower() == "close" and self.transport is not None:
            self.lost = True
            self.transport.close()
        retry = headers.get("retry-after")
        try:
            retry_after = float(retry) if retry else None
        except ValueError:
            retry_after = None
        return Answer(status, body, retry_after, time.time())


class Connection:
    """One warm keep-alive connection. `send` writes at once and returns the answer's future."""

    def __init__(self, protocol: _Protocol, host_header: str) -> None:
        self._protocol = protocol
        self.host_header = host_header

    @property
    def alive(self) -> bool:
        transport = self._protocol.transport
        return not self._protocol.lost and transport is not None and not transport.is_closing()

    @property
    def busy(self) -> bool:
        return bool(self._protocol.waiting)

    def send(self, data: bytes) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        transport = self._protocol.transport
        if not self.alive or transport is None:
            future.set_exception(WireError("connection closed"))
            return future
        self._protocol.waiting.append(future)
        transport.write(data)
        return future

    async def get(self, target: str, *, wait_s: float = 5.0) -> Answer:
        """A plain GET (warm-up, clock): one request on this connection."""
        head = f"GET {target} HTTP/1.1\r\nHost: {self.host_header}\r\nAccept: application/json\r\n\r\n"
        return await asyncio.wait_for(self.send(head.encode()), wait_s)

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.close()


class SignedRequest:
    """A signed MEXC request prepared in full except its `timestamp` and `signature`.

    The parameters go in the query string and the body is empty, as every MEXC client does; the
    signature is HMAC-SHA256 over the query text before `&signature=` (fact sheet section 2), whose
    fixed prefix is hashed once here."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        params: list[Param],
        api_key: str,
        api_secret: str,
        host_header: str,
        recv_window_ms: int = 5000,
    ) -> None:
        query = encode_query([*params, ("recvWindow", str(recv_window_ms)), ("timestamp", "")])
        self._line = f"{method} {path}?{query}".encode()
        self._mac = hmac.new(api_secret.encode(), query.encode(), hashlib.sha256)
        self._head = (
            f" HTTP/1.1\r\nHost: {host_header}\r\nX-MEXC-APIKEY: {api_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    def at(self, timestamp_ms: int) -> bytes:
        stamp = str(timestamp_ms).encode()
        mac = self._mac.copy()
        mac.update(stamp)
        return b"".join((self._line, stamp, b"&signature=", mac.hexdigest().encode(), self._head))


class Wire:
    """Per process, on the hub's loop: the exchange's address and, from the process's `ExchangeHub`,
    its one TLS context, its server-clock offset and its rate limiter (`hub_wire`)."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: ServerClock | None = None,
        limiter: RateLimiter | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.secure else 80)
        default_port = (self.secure and self.port == 443) or (not self.secure and self.port == 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        # The hub's context: building one costs about 20 ms of CPU (notes/PERF.md).
        self.ssl = (ssl_context or ssl.create_default_context()) if self.secure else None
        self.clock = clock or ServerClock()
        self.limiter = limiter or RateLimiter()
        # The shortest round trip seen by the last `sync_clock` (None before one).
        self.rtt_ms: float | None = None
        self.order_weight = weight_of("POST", ORDER_PATH)
        self.cancel_weight = weight_of("DELETE", ORDER_PATH)

    # ---- the exchange's clock (the hub's offset) -------------------------------------------------

    def now_ms(self) -> float:
        """The exchange's clock now, epoch ms."""
        return time.time() * 1000 + (self.clock.offset_ms or 0)

    def local_at(self, server_ms: float) -> float:
        """Local epoch seconds at which the exchange's clock reads `server_ms`."""
        return (server_ms - (self.clock.offset_ms or 0)) / 1000

    def clock_age_s(self) -> float:
        synced = self.clock.synced_at
        return time.time() - synced if self.clock.offset_ms is not None and synced else float("inf")

    async def sync_clock(self, *, samples: int = 5) -> None:
        """Measure the offset from the sample with the shortest round trip (the least queueing
        noise) and store it in the hub's clock, which every session of the process reads. Run before
        the window, never on the send path."""
        conn = await self.connect()
        try:
            best: tuple[float, float] | None = None
            for _ in range(samples):
                # Each sample is a public call on the IP's budget; none goes out during a 418 ban.
                if not self._take(Scope.IP, "/api/v3/time", weight_of("GET", "/api/v3/time")):
                    break
                before = time.time()
                answer = await conn.get("/api/v3/time")
                after = time.time()
                body = answer.json()
                if answer.status != 200 or not isinstance(body, dict) or "serverTime" not in body:
                    raise WireError(f"/api/v3/time answered {answer.status}")
                rtt = (after - before) * 1000
                # serverTime is whole milliseconds, truncated: on average it reads half a ms early.
                offset = int(body["serverTime"]) + 0.5 - (before + after) * 500
                if best is None or rtt < best[0]:
                    best = (rtt, offset)
            if best is None:
                raise WireError("no room in the IP's budget for /api/v3/time")
            self.rtt_ms = best[0]
            self.clock.offset_ms, self.clock.synced_at = round(best[1]), time.time()
        finally:
            conn.close()

    # ---- the budget (the hub's limiter) ----------------------------------------------------------

    def take(self, scope: str, *, cancel: bool = False) -> bool:
        """One order's weight (`cancel`: one cancel's, DELETE of the same endpoint, the same budget)
        from `scope`'s budget, now or not at all (never waits, never yields). False while MEXC's 429
        pause or 418 ban lasts, or when the budget is spent."""
        return self._take(scope, ORDER_PATH, self.cancel_weight if cancel else self.order_weight)

    def _take(self, scope: str, path: str, weight: int) -> bool:
        try:
            return self.limiter.try_acquire(scope, path, weight)
        except IpBanned:
            return False

    def refused(self, scope: str, status: int, retry_after: float | None) -> None:
        """A 429 pauses the account's scope (and cuts its budget); a 418 stops every call of the
        process, the hub's own included, until the ban ends."""
        if status == 418:
            self.limiter.ban(retry_after or 120.0)
        else:
            self.limiter.pause(scope, retry_after or 1.0, endpoint=ORDER_PATH)

    # ---- connections ------------------------------------------------------------------------------

    async def connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            _Protocol, self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl else None
        )
        return Connection(protocol, self.host_header)

    async def connect_many(self, count: int) -> list[Connection]:
        return list(await asyncio.gather(*(self.connect() for _ in range(count))))

    def signed(
        self, *, method: str, path: str, params: list[Param], api_key: str, api_secret: str
    ) -> SignedRequest:
        return SignedRequest(
            method=method,
            path=path,
            params=params,
            api_key=api_key,
            api_secret=api_secret,
            host_header=self.host_header,
        )


def order_scope(api_key: str) -> str:
    """The limiter scope of a key's signed calls, the same one its hub session draws on."""
    return f"{Scope.UID}:{account_label(api_key)}"


_wires: weakref.WeakKeyDictionary[ExchangeHub, Wire] = weakref.WeakKeyDictionary()


def hub_wire(hub: ExchangeHub) -> Wire:
    """The wire of `hub`: its TLS context, clock offset and limiter (one wire per hub)."""
    wire = _wires.get(hub)
    if wire is None:
        secure = hub.base_url.startswith("https")
        wire = Wire(
            hub.base_url,
            clock=hub.clock,
            limiter=hub.limiter,
            ssl_context=hub.ssl_context if secure else None,
        )
        _wires[hub] = wire
    return wire
