"""The exchange's HTTP front (`front.Front`): /api/v3 calls are answered by the plain protocol, anything
else on the same connection by aiohttp, in order; a burst's answers are written after the pass of the
event loop that read it, each order accepted by the engine before any of the burst's answers leaves."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, cast

import httptools
import pytest

from tests.simexchange.helpers import Caller, sign
from trading.simexchange import front
from trading.simexchange.config import SimConfig
from trading.simexchange.server import SimExchange
from trading.simexchange.testing import SimExchangeThread


class Responses:
    """httptools' callbacks collecting the responses in the bytes fed: (status line, headers by
    lower-case name, body) each."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done: list[tuple[bytes, dict[str, str], bytes]] = []
        self.status, self.headers, self.body = b"", dict[str, str](), b""

    def feed(self, data: bytes) -> list[tuple[bytes, dict[str, str], bytes]]:
        self.parser.feed_data(data)
        return self.done

    def on_status(self, status: bytes) -> None:
        self.status += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        line = b"HTTP/%s %d %s" % (
            self.parser.get_http_version().encode(),
            self.parser.get_status_code(),
            self.status,
        )
        self.done.append((line, self.headers, self.body))
        self.status, self.headers, self.body = b"", {}, b""


def exchange(
    sim_exchange: SimExchangeThread, raw: bytes, answers: int
) -> list[tuple[bytes, dict[str, str], bytes]]:
    """``raw`` written at once on one connection; the first ``answers`` responses as (status line,
    headers by lower-case name, body)."""
    responses = Responses()
    with socket.create_connection(("127.0.0.1", sim_exchange.port), timeout=10) as sock:
        sock.sendall(raw)
        while len(responses.done) < answers:
            responses.feed(sock.recv(65536))
    return responses.done[:answers]


class Wire:
    """A stand-in for a connection's transport: the bytes the front wrote, how many writes, and the
    protocol it handed the connection to; ``log`` notes each write."""

    def __init__(self, name: str = "", log: list[str] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.data = b""
        self.writes = 0
        self.protocol: asyncio.BaseProtocol | None = None

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.log.append(f"written {self.name}")
        self.data += data
        self.writes += 1

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol


class Aiohttp(asyncio.Protocol):
    """A stand-in for aiohttp's protocol: the bytes handed to it."""

    def __init__(self) -> None:
        self.received = b""

    def data_received(self, data: bytes) -> None:
        self.received += data


def served(
    sim: SimExchange, reads: list[bytes]
) -> tuple[list[tuple[bytes, dict[str, str], bytes]], Wire, bytes]:
    """``reads`` received one after another on one connection of the front, then one pass of the
    loop: the answers the front wrote, its wire, and the bytes aiohttp got."""
    aiohttp = Aiohttp()

    async def run() -> Wire:
        wire = Wire()
        connection = front.Front(sim, sim.routes, lambda: aiohttp, front.Writes(), set())
        connection.connection_made(wire)  # type: ignore[arg-type]
        for data in reads:
            cast("asyncio.Protocol", wire.protocol or connection).data_received(data)
        await asyncio.sleep(0)
        return wire

    wire = asyncio.run(run())
    return Responses().feed(wire.data), wire, aiohttp.received


def signed_order(api_key: str, api_secret: str, client_id: str) -> bytes:
    query = (
        f"symbol=SOLUSDT&side=BUY&type=MARKET&quoteOrderQty=20&newClientOrderId={client_id}"
        f"&timestamp={int(time.time() * 1000)}"
    )
    digest = sign(api_secret, query)
    return (
        f"POST /api/v3/order?{query}&signature={digest} HTTP/1.1\r\nHost: x\r\n"
        f"X-MEXC-APIKEY: {api_key}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_pipelined_calls_are_answered_in_order_and_the_rest_goes_to_aiohttp(sim_exchange):
    raw = (
        b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n"
        + signed_order(sim_exchange.api_key, sim_exchange.api_secret, "front1")
        + b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\n\r\n"
        + b"GET /_sim/orders?symbol=SOLUSDT HTTP/1.1\r\nHost: x\r\n\r\n"
        # After the hand-over, /api/v3 calls on this connection are aiohttp's and still answered.
        + b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    (ping, order, server_time, sim_orders, ping_again) = exchange(sim_exchange, raw, 5)
    assert ping[0] == b"HTTP/1.1 200 OK"
    assert ping[2] == b"{}"
    assert ping[1]["content-type"] == "application/json; charset=utf-8"
    assert "server" not in ping[1]  # the plain front
    placed = json.loads(order[2])
    assert order[0] == b"HTTP/1.1 200 OK"
    assert placed["orderId"].startswith("C02__")
    assert "serverTime" in json.loads(server_time[2])
    assert "aiohttp" in sim_orders[1]["server"]
    assert [o["clientOrderId"] for o in json.loads(sim_orders[2])["orders"]] == ["front1"]
    assert ping_again[2] == b"{}"
    assert "aiohttp" in ping_again[1]["server"]


def test_errors_and_rate_limits_answer_as_mexc_does(sim_exchange):
    unknown_key = (
        b"GET /api/v3/account?timestamp=1&signature=ab HTTP/1.1\r\nHost: x\r\n"
        b"X-MEXC-APIKEY: mx0aaaaaaaaaaaaaaa\r\n\r\n"
    )
    bad_symbol = b"GET /api/v3/depth?symbol=NOPEUSDT HTTP/1.1\r\nHost: x\r\n\r\n"
    [(status, _, body), (status2, _, body2)] = exchange(sim_exchange, unknown_key + bad_symbol, 2)
    assert status == b"HTTP/1.1 400 Bad Request"
    assert json.loads(body)["code"] == 10072
    assert status2.endswith(b" 400 Bad Request")  # aiohttp answers a request it cannot read in HTTP/1.0
    assert json.loads(body2)["code"] == -1121


def test_a_429_carries_retry_after():
    with SimExchangeThread(SimConfig(rate_limit_weight=3)) as mexc:
        answers = exchange(mexc, b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n" * 5, 5)
    assert [a[0] for a in answers] == [b"HTTP/1.1 200 OK"] * 3 + [b"HTTP/1.1 429 Too Many Requests"] * 2
    assert all("server" not in a[1] for a in answers)  # the plain front
    assert answers[3][1]["retry-after"].isdigit()
    assert json.loads(answers[3][2])["code"] == 429


def test_a_chunked_body_and_a_queued_fault_are_answered_by_aiohttp(sim_exchange):
    caller = Caller(sim_exchange)
    body = json.dumps({"symbol": "BTCUSDT"}).encode()
    chunked = (
        b"GET /api/v3/depth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    )
    [(status, headers, answer)] = exchange(sim_exchange, chunked, 1)
    assert status == b"HTTP/1.1 200 OK"
    assert "aiohttp" in headers["server"]
    assert json.loads(answer)["bids"]
    sim_exchange.fail_next("/api/v3/ping", status=503)
    assert caller.public("ping").status_code == 503
    assert caller.public("ping").status_code == 200


def test_a_burst_is_accepted_before_its_answers_are_written():
    """Twenty orders read in one pass of the loop: the engine accepts all twenty, then the answers
    leave, each on its own connection, right after the pass."""
    sim = SimExchange(SimConfig())
    events: list[str] = []
    place = sim.engine.place

    def traced(account: Any, req: Any, now: int, *, dry_run: bool = False) -> Any:
        order = place(account, req, now, dry_run=dry_run)
        events.append(f"accepted {order.client_order_id}")
        return order

    sim.engine.place = traced  # type: ignore[method-assign]

    async def burst() -> list[Wire]:
        writes, live = front.Writes(), set[front.Front]()
        transports = []
        for i in range(20):
            connection = front.Front(sim, sim.routes, lambda: asyncio.Protocol(), writes, live)
            transport = Wire(f"b{i}", events)
            connection.connection_made(transport)  # type: ignore[arg-type]
            connection.data_received(signed_order(sim.config.api_key, sim.config.api_secret, f"b{i}"))
            transports.append(transport)
        assert not any(e.startswith("written") for e in events)
        await asyncio.sleep(0)
        return transports

    transports = asyncio.run(burst())
    assert events == [f"accepted b{i}" for i in range(20)] + [f"written b{i}" for i in range(20)]
    answers = [transport.data.split(b"\r\n\r\n", 1) for transport in transports]
    assert all(head.startswith(b"HTTP/1.1 200 OK\r\n") for head, _ in answers)
    assert len({json.loads(body)["orderId"] for _, body in answers}) == 20


PING = b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n"
# A JSON body with a blank line in it: the end of a request is not the body's first blank line.
DEPTH_BODY = b'{"symbol":\r\n\r\n"BTCUSDT", "limit": 5}'
DEPTH = (
    b"GET /api/v3/depth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(DEPTH_BODY) + DEPTH_BODY
)
SIM_ORDERS = b"GET /_sim/orders?symbol=SOLUSDT HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def sim() -> SimExchange:
    return SimExchange(SimConfig(rate_limit_weight=10**9))


def test_a_request_read_byte_by_byte_is_answered_once_it_is_whole(sim):
    raw = signed_order(sim.config.api_key, sim.config.api_secret, "bytes1") + DEPTH
    answers, _, to_aiohttp = served(sim, [raw[i : i + 1] for i in range(len(raw))])
    [(status, _, order), (status2, _, depth)] = answers
    assert status == status2 == b"HTTP/1.1 200 OK"
    assert json.loads(order)["orderId"].startswith("C02__")
    assert len(json.loads(depth)["asks"]) == 5
    assert to_aiohttp == b""


def test_two_pipelined_requests_in_one_read_are_answered_in_one_write(sim):
    answers, wire, to_aiohttp = served(sim, [PING + b"GET /api/v3/time HTTP/1.1\r\nHost: x\r\n\r\n"])
    [(_, _, ping), (_, _, server_time)] = answers
    assert ping == b"{}"
    assert "serverTime" in json.loads(server_time)
    assert wire.writes == 1
    assert to_aiohttp == b""


def test_aiohttp_gets_the_hand_off_request_from_its_first_byte_wherever_the_reads_split(sim):
    """Two /api/v3 calls (the second after empty lines, which llhttp passes over, and with a body),
    then one for aiohttp, then one more: cut into two reads at every byte, and into single bytes."""
    raw = PING + b"\r\n\r\n" + DEPTH + SIM_ORDERS + PING
    handed = raw[raw.index(SIM_ORDERS) :]
    splits = [[raw[:i], raw[i:]] for i in range(1, len(raw))] + [[raw[i : i + 1] for i in range(len(raw))]]
    for reads in splits:
        answers, _, to_aiohttp = served(sim, reads)
        assert [(status, body[:2]) for status, _, body in answers] == [
            (b"HTTP/1.1 200 OK", b"{}"),
            (b"HTTP/1.1 200 OK", b'{"'),
        ]
        assert to_aiohttp == handed


@pytest.mark.parametrize(
    "request_",
    [
        SIM_ORDERS,
        b"GET /api/operation/new_coin_calendar?timestamp=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v3/nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v3/p%69ng HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"GET /api/v3/depth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET /api/v3/depth HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (front.MAX_BODY + 1),
        b"GET /api/v3/depth HTTP/1.1\r\nContent-Length: 2\r\n\r\n\xff\xfe",
        b"GET /api/v3/ping HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nX-Pad: " + b"a" * front.MAX_HEAD,
    ],
    ids=[
        "sim",
        "calendar",
        "unknown-path",
        "percent",
        "upgrade",
        "chunked",
        "expect",
        "close",
        "http10",
        "body-over-max",
        "body-not-utf8",
        "malformed-header",
        "two-lengths",
        "head-over-max",
    ],
)
def test_each_request_for_aiohttp_is_handed_over_whole_after_the_answers_before_it(sim, request_):
    answers, _, to_aiohttp = served(sim, [PING + PING, request_])
    assert [body for _, _, body in answers] == [b"{}", b"{}"]
    assert to_aiohttp == request_


def test_a_queued_fault_hands_the_request_to_aiohttp(sim):
    sim.fail_next("/api/v3/ping", status=503)
    answers, _, to_aiohttp = served(sim, [PING])
    assert answers == []
    assert to_aiohttp == PING


def test_a_malformed_request_after_an_api_call_is_answered_400_by_aiohttp(sim_exchange):
    raw = PING + b"GET /api/v3/ping HTTP/1.1\r\nHost x\r\n\r\n"
    [(status, headers, body), (status2, headers2, _)] = exchange(sim_exchange, raw, 2)
    assert (status, body) == (b"HTTP/1.1 200 OK", b"{}")
    assert "server" not in headers
    assert status2.endswith(b" 400 Bad Request")  # aiohttp answers a request it cannot read in HTTP/1.0
    assert "aiohttp" in headers2["server"]
