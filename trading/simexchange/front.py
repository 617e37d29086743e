"""The exchange's HTTP front: a plain asyncio protocol for the /api/v3 REST calls, aiohttp for the rest.

Why: in a burst of orders at a listing's open, each order waited for every order before it, and
aiohttp's own work per request (its parser, a task per request, the request and response objects,
the router) was a third of the exchange's time per order, measured by cProfile of 20-order bursts.
This protocol reads a request with httptools (llhttp, the parser uvicorn uses), hands it to the same
`rest.Dispatcher` (same limits, signature check, engine and answers), and queues the answer's bytes.

The answers of every request read in one pass of the event loop are written together right after
it (one `call_soon`): the engine accepts the orders of a burst back to back, as MEXC's matching
engine does behind its gateways, and no order waits for the socket writes of the answers before it.
Every answer still leaves in the order its connection's requests came, and right after the pass.

A connection goes to aiohttp for good (``transport.set_protocol``) on the first request that is not
a plain /api/v3 route call: the WebSocket, /_sim, the calendar, an unknown path or method, chunked
bodies, ``Expect``, ``Connection: close``, HTTP/1.0, a body over `MAX_BODY` or not UTF-8, a head
still incomplete past `MAX_HEAD`, anything llhttp finds malformed, and every request while a
scenario fault is queued (faults delay and move prices, which aiohttp's handler does). aiohttp gets
that request's bytes from its first one, unparsed, and everything after; it answers exactly as before.

llhttp reads a whole chunk of bytes at once and tells neither where a request began nor where it
ended, so the protocol keeps the bytes from the start of the request being read (`Front.raw`) and
finds a completed request's end itself (`Front._request_end`): the hand-off needs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

import httptools

from trading.simexchange.rest import Answer, Dispatcher, Incoming
from trading.simexchange.scenarios import server_error_body

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

logger = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
# Headers that only aiohttp's handler deals with: the request goes there.
HAND_OFF_HEADERS = frozenset({b"transfer-encoding", b"expect", b"upgrade"})


class HandOff(Exception):
    """Raised in a parser callback: the request being read, from its first byte, is aiohttp's."""


def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def encoded(answer: Answer) -> bytes:
    """The HTTP/1.1 response: status, JSON content type, extra headers, length, body."""
    payload = answer.encoded()
    head = [status_line(answer.status), b"Content-Type: application/json; charset=utf-8\r\n"]
    head += [f"{name}: {value}\r\n".encode() for name, value in (answer.headers or {}).items()]
    head.append(b"Content-Length: %d\r\n\r\n" % len(payload))
    return b"".join(head) + payload


class Writes:
    """The answers queued in this pass of the event loop, written together right after it."""

    def __init__(self) -> None:
        self.fronts: list[Front] = []

    def queue(self, front: Front) -> None:
        if not self.fronts:
            asyncio.get_running_loop().call_soon(self.flush)
        self.fronts.append(front)

    def flush(self) -> None:
        fronts, self.fronts = self.fronts, []
        for front in fronts:
            front.write_out()


class Front(asyncio.Protocol):
    """One client connection: ``routes`` maps (method, path) to the dispatcher; ``fallback`` builds
    aiohttp's protocol for a connection handed over. The ``on_*`` methods are httptools' callbacks;
    each raises `HandOff` for a request that is aiohttp's."""

    def __init__(
        self,
        sim: SimExchange,
        routes: dict[tuple[str, str], Dispatcher],
        fallback: Callable[[], asyncio.Protocol],
        writes: Writes,
        live: set[Front],
    ) -> None:
        self.sim = sim
        self.routes = routes
        self.fallback = fallback
        self.writes = writes
        self.live = live
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.parser = httptools.HttpRequestParser(self)
        # The bytes received from the start of the request being read (or of the empty lines before
        # it); `start` is where that request begins once llhttp has finished the ones before it.
        self.raw = b""
        self.start = 0
        self.head_done = False
        self.out: list[bytes] = []
        self._new_request()

    def _new_request(self) -> None:
        self.url = b""
        self.length = 0
        self.api_key: str | None = None
        self.body: list[bytes] = []
        self.route: Dispatcher | None = None
        self.path = self.query = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass; a stream server hands one.
        self.transport = cast("asyncio.Transport", transport)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        self.live.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.discard(self)
        self.transport = None
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.raw = self.raw + data if self.raw else data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:  # a `HandOff` from a callback, or a malformed request
            handing_off = True
        else:
            self.raw, self.start = self.raw[self.start :], 0
            handing_off = not self.head_done and len(self.raw) > MAX_HEAD
        if handing_off:  # out of the except block: aiohttp's own errors are not chained to llhttp's
            self._hand_off()

    def on_message_begin(self) -> None:
        self._new_request()

    def on_url(self, url: bytes) -> None:
        self.url += url  # llhttp hands a URL split across reads in parts

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in HAND_OFF_HEADERS:
            raise HandOff
        if name == b"content-length":
            self.length = int(value)  # llhttp refused anything but one run of digits
        elif name == b"x-mexc-apikey":
            self.api_key = value.strip().decode("latin-1")

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.path, _, self.query = self.url.decode("latin-1").partition("?")
        self.route = self.routes.get((parser.get_method().decode("latin-1"), self.path))
        if (
            self.route is None
            or "%" in self.path
            or self.length > MAX_BODY
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or self.sim.faults.queued
        ):
            raise HandOff
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        raw_body = b"".join(self.body)
        try:
            body = raw_body.decode()
        except UnicodeDecodeError:
            raise HandOff from None
        self.head_done = False
        self.start = self._request_end(len(raw_body))
        route = self.route
        assert route is not None
        try:
            answer = route.answer(Incoming(self.query, body, self.api_key, self.remote))
        except Exception:  # a fault of the exchange itself: a 500, as aiohttp's handler answers it
            logger.exception("simexchange: %s %s failed", self.parser.get_method().decode(), self.path)
            answer = Answer(500, server_error_body(500))
        if not self.out:
            self.writes.queue(self)
        self.out.append(encoded(answer))

    def _request_end(self, body_length: int) -> int:
        """Where, in `raw`, the request llhttp has just completed ends: llhttp passes over empty lines
        before a request and refuses a bare CR or LF within a head, so the head ends at the first
        blank line after them."""
        raw, head = self.raw, self.start
        while raw[head] in b"\r\n":
            head += 1
        return raw.index(b"\r\n\r\n", head) + 4 + body_length

    def write_out(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _hand_off(self) -> None:
        """From the request being read on, the connection is aiohttp's: the answers queued so far are
        written first, so the client reads them in order."""
        transport = self.transport
        assert transport is not None
        self.write_out()
        self.live.discard(self)
        protocol = self.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        rest, self.raw = self.raw[self.start :], b""
        if rest:
            protocol.data_received(rest)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
