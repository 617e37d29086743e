"""The exchange's HTTP front: a plain asyncio protocol for the /api/v3 REST calls, aiohttp for the rest.

Why: in a burst of orders at a listing's open, each order waited for every order before it, and
aiohttp's own work per request (its parser, a task per request, the request and response objects,
the router) was a third of the exchange's time per order, measured by cProfile of 20-order bursts.
This protocol reads a request, hands it to the same `rest.Dispatcher` (same limits, signature check,
engine and answers), and queues the answer's bytes.

The answers of every request read in one pass of the event loop are written together right after
it (one `call_soon`): the engine accepts the orders of a burst back to back, as MEXC's matching
engine does behind its gateways, and no order waits for the socket writes of the answers before it.
Every answer still leaves in the order its connection's requests came, and right after the pass.

A connection goes to aiohttp for good (``transport.set_protocol``, with the bytes not yet handled)
on the first request that is not a plain /api/v3 route call: the WebSocket, /_sim, the calendar, an
unknown path or method, chunked bodies, ``Expect``, ``Connection: close``, HTTP/1.0, anything
malformed, and every request while a scenario fault is queued (faults delay and move prices, which
aiohttp's handler does). aiohttp then answers it exactly as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

from trading.simexchange.rest import Answer, Dispatcher, Incoming
from trading.simexchange.scenarios import server_error_body

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

logger = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
# Headers that only aiohttp's handler deals with: the request goes there.
HAND_OFF_HEADERS = frozenset({b"transfer-encoding", b"expect", b"upgrade"})


def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def header_fields(lines: list[bytes]) -> tuple[int, str | None]:
    """The body's length and the API key header (None when absent); length -1 when the request is
    one for aiohttp's handler (see `HAND_OFF_HEADERS`, ``Connection: close``, a malformed line)."""
    length, api_key = 0, None
    for line in lines:
        name, sep, value = line.partition(b":")
        name = name.strip().lower()
        if not sep or name in HAND_OFF_HEADERS or (name == b"connection" and b"close" in value.lower()):
            return -1, None
        if name == b"content-length":
            length = int(value) if value.strip().isdigit() else -1
        elif name == b"x-mexc-apikey":
            api_key = value.strip().decode("latin-1")
    return length, api_key


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
    aiohttp's protocol for a connection handed over."""

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
        self.buffer = b""
        self.out: list[bytes] = []
        self.handed_off = False

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
        self.buffer = self.buffer + data if self.buffer else data
        while self.buffer and not self.handed_off:
            if not self._one_request():
                return

    def _one_request(self) -> bool:
        """Answers the request at the head of the buffer; False when it is not all here yet or the
        connection was handed to aiohttp."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                self._hand_off()
            return False
        lines = buffer[:end].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or parts[2] != b"HTTP/1.1" or self.sim.faults.queued:
            self._hand_off()
            return False
        method, target = parts[0].decode("latin-1"), parts[1].decode("latin-1")
        path, _, query = target.partition("?")
        dispatcher = self.routes.get((method, path))
        length, api_key = header_fields(lines[1:])
        if dispatcher is None or "%" in path or not 0 <= length <= MAX_BODY:
            self._hand_off()
            return False
        start = end + 4
        if len(buffer) < start + length:
            return False
        try:
            body = buffer[start : start + length].decode()
        except UnicodeDecodeError:
            self._hand_off()
            return False
        self.buffer = buffer[start + length :]
        try:
            answer = dispatcher.answer(Incoming(query, body, api_key, self.remote))
        except Exception:  # a fault of the exchange itself: a 500, as aiohttp's handler answers it
            logger.exception("simexchange: %s %s failed", method, path)
            answer = Answer(500, server_error_body(500))
        if not self.out:
            self.writes.queue(self)
        self.out.append(encoded(answer))
        return True

    def write_out(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _hand_off(self) -> None:
        """From this request on, the connection is aiohttp's: the answers queued so far are written
        first, so the client reads them in order."""
        transport = self.transport
        assert transport is not None
        self.write_out()
        self.handed_off = True
        self.live.discard(self)
        protocol = self.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        rest, self.buffer = self.buffer, b""
        if rest:
            protocol.data_received(rest)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
