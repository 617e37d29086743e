"""The trading API under load: requests/s and latency percentiles at 50 concurrent clients for a
market read and for placing a paper order.

Three processes on loopback, so the load generator does not share a GIL with what it measures:
- the project's simulated MEXC (trading/simexchange, started through its testing helper) with its
  rate limits lifted; the paper exchange fetches its order book over real HTTP for every order;
- the Django app under one daphne process (HTTP only, no market feed), against a temporary SQLite
  database and var/ directory (file cache), with the API's rate limits set too high to trip;
- this process, driving 50 keep-alive httpx clients.

1. GET /api/v1/markets/SOLUSDT/ticker: auth, throttle counters and the feed's cache snapshot (written
   once at setup, as the feed would).
2. POST /api/v1/orders for 30 s: a MARKET buy for 2 USDT of SOLUSDT on the paper account:
   validation, one depth request to the exchange, then the Order row, its fills and the balances in
   one IMMEDIATE write transaction. Every order writes to the one SQLite file (`make run`'s default
   database), so this is the database's write path under contention. Issue 11's target: at least
   200 orders/s, p99 at most 250 ms, no errors. Failures are counted and shown by status.

About 60 s in all (most of it the order run and migrating the temporary database).
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.api import ASGI, ROOT, environment, free_port, process, wait_for

CLIENTS = 50
SECONDS = 3.0
ORDER_SECONDS = 30.0
WARMUP = 0.5

SETTINGS = """
from config.settings import *  # noqa: F403
API_RATE_LIMIT_IP = "100000000/min"
API_RATE_LIMIT_TOKEN = "100000000/min"
"""
SIMEXCHANGE = """
import sys, threading
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread
config = SimConfig(rate_limit_weight=10**9, rate_limit_strikes=10**9)
with SimExchangeThread(config) as sim:
    print(sim.base_url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
"""
SETUP = """
import django
django.setup()
from accounts.models import Role, User
from accounts.tokens import api_token_create
from trading import services
from trading.feed.store import snapshot_write
services.symbols_sync()
user = User.objects.create_user("bench@example.com", "bench password 123", role=Role.TRADER)
services.trading_account_get_or_create(user=user)
snapshot_write(
    tickers={"SOLUSDT": {"price": "127.4", "change": "1.5", "high": "131", "low": "125",
                         "volume": "1000", "quote_volume": "127400", "bid": "127.39", "ask": "127.41"}},
    books={},
    watched=[],
)
print(api_token_create(user=user, name="bench", scopes=["read", "trade"])[1])
"""
ORDER = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "2"}
Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def load(
    base: str, headers: dict[str, str], send: Send, ok: int, seconds: float = SECONDS
) -> dict[str, Any]:
    latencies: list[float] = []
    failures: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10.0) as http:
        measure_from = time.perf_counter() + WARMUP
        stop = measure_from + seconds

        async def client() -> None:
            while (now := time.perf_counter()) < stop:
                try:
                    status = (await send(http)).status_code
                except httpx.TimeoutException:
                    status = 0  # no answer within the client's 10 s
                done = time.perf_counter()
                if done >= measure_from:
                    latencies.append(done - now)
                    if status != ok:
                        failures[status] += 1

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        # Requests sent before `stop` may finish well after it: throughput is over the real span.
        span = max(time.perf_counter(), stop) - measure_from
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "rps": len(latencies) / span,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "n": len(latencies),
        "failures": failures,
    }


def report(label: str, result: dict[str, Any], ok: int) -> None:
    failures = sorted(result["failures"].items())
    failed = ", ".join(f"{n} x {status or 'timeout'}" for status, n in failures) or "none"
    print(
        f"{label:<44} {result['rps']:8.1f} req/s   p50 {result['p50']:7.1f} ms   "
        f"p99 {result['p99']:7.1f} ms   ({result['n']:.0f} requests; not {ok}: {failed})"
    )


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run() -> None:
    print(
        f"trading API, {CLIENTS} concurrent clients after {WARMUP}s warm-up, one daphne process, the "
        f"default embedded database; {platform.machine()}, {os.cpu_count()} cores, load average before: "
        f"{load_average()}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="brute-bench-api-trading-") as name:
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(SETTINGS)
        (tmp / "bench_api_asgi.py").write_text(ASGI)
        sim = subprocess.Popen(
            [sys.executable, "-c", SIMEXCHANGE],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert sim.stdout is not None
            env = {**environment(tmp, None), "MEXC_BASE_URL": sim.stdout.readline().strip()}
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
            )
            setup = subprocess.run(
                [sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
            headers = {"Authorization": f"Bearer {setup.stdout.split()[-1]}"}
            print(f"(exchange up, database migrated, symbols synced: {time.perf_counter() - started:.1f}s)")
            measure(env, headers)
        finally:
            if sim.stdin is not None:
                sim.stdin.close()
            sim.wait(timeout=10)
    print(f"(total {time.perf_counter() - started:.1f}s; load average after: {load_average()})")


def measure(env: dict[str, str], headers: dict[str, str]) -> None:
    port = free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    args = [daphne, "-b", "127.0.0.1", "-p", str(port), "bench_api_asgi:application"]
    with process(args, env) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/v1/openapi.json", proc, timeout=120)  # a busy box starts daphne slowly

        def ticker(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return http.get("/api/v1/markets/SOLUSDT/ticker")

        def order(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return http.post("/api/v1/orders", json=ORDER)

        cases: list[tuple[str, Send, int, float]] = [
            ("GET  /markets/SOLUSDT/ticker (feed snapshot)", ticker, 200, SECONDS),
            (f"POST /orders (paper market buy, {ORDER_SECONDS:.0f} s)", order, 201, ORDER_SECONDS),
        ]
        for label, send, ok, seconds in cases:
            report(label, asyncio.run(load(base, headers, send, ok, seconds)), ok)


if __name__ == "__main__":
    run()
