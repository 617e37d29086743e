"""The exchange's HTTP front (`front.Front`): /api/v3 calls are answered by the plain protocol, anything
else on the same connection by aiohttp, in order; a burst's answers are written after the pass of the
event loop that read it, each order accepted by the engine before any of the burst's answers leaves."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

from tests.simexchange.helpers import Caller, sign
from trading.simexchange import front
from trading.simexchange.config import SimConfig
from trading.simexchange.server import SimExchange
from trading.simexchange.testing import SimExchangeThread


def exchange(
    sim_exchange: SimExchangeThread, raw: bytes, answers: int
) -> list[tuple[bytes, dict[str, str], bytes]]:
    """``raw`` written at once on one connection; the first ``answers`` responses as (status line,
    headers by lower-case name, body)."""
    out: list[tuple[bytes, dict[str, str], bytes]] = []
    with socket.create_connection(("127.0.0.1", sim_exchange.port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while len(out) < answers:
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, data = data.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers["content-length"])
            while len(data) < length:
                data += sock.recv(65536)
            out.append((lines[0], headers, data[:length]))
            data = data[length:]
    return out


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
    assert status2 == b"HTTP/1.1 400 Bad Request"
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

    class Transport:
        def __init__(self, name: str) -> None:
            self.name = name
            self.data = b""

        def get_extra_info(self, name: str) -> Any:
            return ("127.0.0.1", 1) if name == "peername" else None

        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            events.append(f"written {self.name}")
            self.data += data

    async def burst() -> list[Transport]:
        writes, live = front.Writes(), set[front.Front]()
        transports = []
        for i in range(20):
            connection = front.Front(sim, sim.routes, lambda: asyncio.Protocol(), writes, live)
            transport = Transport(f"b{i}")
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
