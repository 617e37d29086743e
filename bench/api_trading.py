"""The trading API under load, as `make run` serves it: paper orders placed by 50 concurrent API clients
for 30 s (BENCH_SECONDS), beside a market read measured in the same run on the same server.

Processes on loopback, so the load generator does not share a GIL with what it measures:
- the project's simulated MEXC (trading/simexchange, started through its testing helper) with its
  rate limits lifted; the paper exchange fetches its order book over real HTTP for every order;
- the app started with `make run`'s own command lines and environment (bench/_app.py, runbrute's
  PROCESSES): gunicorn with config/gunicorn.py for HTTP, the uvicorn "live" process the web workers
  hand each order's live events to (no Redis), against a temporary SQLite file (the default
  database) and var/ directory (file cache), with the API's rate limits set too high to trip;
- wrk (when installed, else 50 keep-alive connections of a small asyncio HTTP/1.1 client in this
  process, `_raw`) with 50 connections.

1. GET /api/v1/markets/SOLUSDT/ticker (the baseline): auth, throttle counters and the feed's cache
   snapshot (written once at setup, as the feed would), before and after the order run.
2. POST /api/v1/orders: a MARKET buy for 2 USDT of SOLUSDT on the paper account: validation, one
   depth request to the exchange (shared by the orders waiting on it), then the Order row, its fills,
   the balances and the fill notification in one IMMEDIATE write transaction, then the live events
   queued for the live process's sender thread (config/livebus.py). Every order writes to the one
   SQLite file, so this is the database's write path under contention. Issue 11's target: at least
   200 orders/s, p99 at most 250 ms, no errors. Failures are counted by kind (status and error
   code, or the exception).

About 60 s in all with the default 30 s (BENCH_SECONDS=5 for a quick look).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._app import ROOT, App, cpu_seconds, serve
from bench.api import environment

CLIENTS = 50
SECONDS = 3.0  # each baseline run
ORDER_SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
WARMUP = 2.0  # each gunicorn worker imports lazily on its first requests
TIMEOUT = 10.0

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
from decimal import Decimal
import django
django.setup()
from accounts.models import Role, User
from accounts.tokens import api_token_create
from trading import services
from trading.feed.store import snapshot_write
services.symbols_sync()
user = User.objects.create_user("bench@example.com", "bench password 123", role=Role.TRADER)
services.trading_account_get_or_create(user=user)
# Enough for every order of the run: 10,000 USDT (the default) is 5,000 orders of 2 USDT.
services.paper_account_reset(user=user, starting_balance=Decimal(10**9))
snapshot_write(
    tickers={"SOLUSDT": {"price": "127.4", "change": "1.5", "high": "131", "low": "125",
                         "volume": "1000", "quote_volume": "127400", "bid": "127.39", "ask": "127.41"}},
    books={},
    watched=[],
)
print(api_token_create(user=user, name="bench", scopes=["read", "trade"])[1])
"""
ORDER = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "2"}
# wrk's script: the request (method, body, headers from the command line) and a count of answers by
# status and the API's error code, summed over wrk's threads and printed last, one "KIND<TAB>N" a line.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  kinds = {}
  if os.getenv("BENCH_BODY") ~= "" then
    wrk.method = "POST"
    wrk.body = os.getenv("BENCH_BODY")
    wrk.headers["Content-Type"] = "application/json"
  end
end
function response(status, headers, body)
  local code = body and string.match(body, '"code"%s*:%s*"([^"]*)"') or nil
  local kind = code and (status .. " " .. code) or tostring(status)
  kinds[kind] = (kinds[kind] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for kind, n in pairs(thread:get("kinds")) do total[kind] = (total[kind] or 0) + n end
  end
  for kind, n in pairs(total) do io.write("KIND\t" .. kind .. "\t" .. n .. "\n") end
  local e = summary.errors
  io.write(string.format("SOCKET\t%d\t%d\t%d\t%d\n", e.connect, e.read, e.write, e.timeout))
  io.write(string.format("LAT\t%f\t%f\t%d\t%f\n",
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration))
end
"""


def load(
    base: str,
    headers: dict[str, str],
    path: str,
    ok: int,
    seconds: float = SECONDS,
    clients: int = CLIENTS,
    body: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`clients` keep-alive connections sending GET `path` (POST `body` as JSON when given) for
    `seconds` after WARMUP: with wrk when installed (C, so the server keeps the CPU), else `_raw`."""
    if shutil.which("wrk"):
        return _wrk(base + path, headers, ok, seconds, clients, body)
    return asyncio.run(_raw(base, headers, path, ok, seconds, clients, body))


def _wrk(
    url: str, headers: dict[str, str], ok: int, seconds: float, clients: int, body: dict[str, str] | None
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        base = [
            "wrk",
            "-t",
            str(min(2, clients)),
            "-c",
            str(clients),
            "-s",
            script.name,
            "--timeout",
            f"{TIMEOUT:.0f}s",
        ]
        for name, value in headers.items():
            base += ["-H", f"{name}: {value}"]
        env = {**os.environ, "BENCH_BODY": json.dumps(body) if body is not None else ""}

        def wrk(duration: float) -> str:
            argv = [*base, "-d", f"{max(1, round(duration))}s", url]
            return subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout

        warm = wrk(WARMUP)  # each gunicorn worker imports lazily on its first requests
        out = wrk(seconds)
    warmed = sum(int(line.split("\t")[2]) for line in warm.splitlines() if line.startswith("KIND\t"))
    failures: Counter[str] = Counter()
    answered = 0
    for line in out.splitlines():
        kind, *values = line.split("\t")
        if kind == "KIND":
            answered += int(values[1])
            if values[0] != str(ok):
                failures[values[0]] += int(values[1])
        elif kind == "SOCKET":
            for name, n in zip(
                ("connect", "read", "write", f"timeout ({TIMEOUT:.0f} s)"), values, strict=True
            ):
                if int(n):
                    failures[f"socket {name}"] += int(n)
        elif kind == "LAT":
            p50, p99, requests, micros = float(values[0]), float(values[1]), int(values[2]), float(values[3])
    span = micros / 1e6
    return {
        "rps": (answered - sum(v for k, v in failures.items() if not k.startswith("socket"))) / span,
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "n": requests,
        "failures": failures,
        "tool": "wrk",
        "sent": warmed + requests,  # every request of the warm-up and of the run
    }


_CODE = re.compile(rb'"code"\s*:\s*"([^"]*)"')


class _Connection:
    """One keep-alive HTTP/1.1 connection of `_raw`, reopened after a failure or a close."""

    def __init__(self, host: str, port: int, request: bytes, ok: int) -> None:
        self.host, self.port, self.request, self.ok = host, port, request, ok
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def ask(self) -> str | None:
        """Sends the request once: None when answered `ok`, else the failure's kind."""
        try:
            if self.stream is None:
                self.stream = await asyncio.open_connection(self.host, self.port)
            status, answer, close = await asyncio.wait_for(self._exchange(*self.stream), TIMEOUT)
        except TimeoutError:
            self.close()
            return f"timeout ({TIMEOUT:.0f} s)"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            self.close()
            return type(exc).__name__
        if close:
            self.close()
        if status == self.ok:
            return None
        code = _CODE.search(answer)
        return f"{status} {code.group(1).decode()}" if code else str(status)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[int, bytes, bool]:
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        answer = await reader.readexactly(int(length.group(1)) if length else 0)
        return status, answer, bool(re.search(rb"(?i)\r\nconnection:\s*close", head))

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


async def _raw(
    base: str,
    headers: dict[str, str],
    path: str,
    ok: int,
    seconds: float,
    clients: int,
    body: dict[str, str] | None,
) -> dict[str, Any]:
    """wrk's job in a few lines of asyncio: `clients` keep-alive HTTP/1.1 connections, each sending
    the same request as soon as its answer is in. Far cheaper per request than an HTTP library, so on a
    small machine the load generator takes less of the CPU the servers are measured with (still more
    than wrk: compare with a baseline it measured too)."""
    parts = urlsplit(base)
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [
        f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    sent = 0
    measure_from = time.perf_counter() + WARMUP
    stop = measure_from + seconds

    async def client() -> None:
        nonlocal sent
        connection = _Connection(parts.hostname or "127.0.0.1", parts.port or 80, request, ok)
        while (now := time.perf_counter()) < stop:
            sent += 1
            kind = await connection.ask()
            done = time.perf_counter()
            if done >= measure_from:
                latencies.append(done - now)
                if kind is not None:
                    failures[kind] += 1
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    # Requests sent before `stop` may finish well after it: throughput is over the real span.
    span = max(time.perf_counter(), stop) - measure_from
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "rps": (len(latencies) - sum(failures.values())) / span,  # answered as asked, per second
        "p50": pct(0.5),
        "p99": pct(0.99),
        "n": len(latencies),
        "failures": failures,
        "tool": "asyncio HTTP/1.1 client",
        "sent": sent,  # every request of the warm-up and of the run
    }


def report(label: str, result: dict[str, Any], ok: int, baseline: float | None = None) -> None:
    failed = ", ".join(f"{n} x {kind}" for kind, n in result["failures"].most_common()) or "none"
    versus = f"  {result['rps'] / baseline:5.2f}x baseline" if baseline else ""
    print(
        f"{label:<46} {result['rps']:8.1f} ok/s{versus}   p50 {result['p50']:7.1f} ms   "
        f"p99 {result['p99']:7.1f} ms   ({result['n']:.0f} requests; errors: {failed})",
        flush=True,
    )


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


class SimExchange:
    """The simulated MEXC in a child process, its rate limits lifted; `url` once it listens."""

    pid = 0  # the running one's, for its CPU time

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SIMEXCHANGE],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        url = self.proc.stdout.readline().strip()
        SimExchange.pid = self.proc.pid
        return url

    def __exit__(self, *exc: object) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def simulated(env: dict[str, str], exchange: str) -> dict[str, str]:
    """What `make run` sets when it serves the bundled exchange."""
    ws = exchange.replace("http://", "ws://", 1) + "/ws"
    return {**env, "MEXC_BASE_URL": exchange, "MEXC_WS_URL": ws, "MEXC_SIMULATED": "true"}


def prepare(env: dict[str, str]) -> dict[str, str]:
    """Migrates the database, syncs symbols, makes the trader; returns the API's auth header."""
    migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    setup = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return {"Authorization": f"Bearer {setup.stdout.split()[-1]}"}


TICKER = "/api/v1/markets/SOLUSDT/ticker"
ORDERS = "/api/v1/orders"


def run() -> None:
    print(
        f"trading API, {CLIENTS} concurrent clients after {WARMUP}s warm-up, served as `make run` does "
        f"(gunicorn web + uvicorn live), the default embedded database; {platform.machine()}, "
        f"{os.cpu_count()} cores, load average before: {load_average()}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="brute-bench-api-trading-") as name, SimExchange() as exchange:
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(SETTINGS)
        env = simulated(environment(tmp, None), exchange)
        headers = prepare(env)
        print(f"(exchange up, database migrated, symbols synced: {time.perf_counter() - started:.1f}s)")
        with serve(env, logs=tmp) as app:
            measure(app, headers)
        for role in app.processes:
            print(f"({role} log: {_log_summary(tmp / f'{role}.log')})")
    print(f"(total {time.perf_counter() - started:.1f}s; load average after: {load_average()})")


def _log_summary(log: Path) -> str:
    """How many tracebacks and warnings a server logged, and the last traceback's last line."""
    lines = log.read_text(errors="replace").splitlines()
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    warnings = sum(" WARNING " in line for line in lines)
    last = ""
    if tracebacks:
        after = [line for line in lines[tracebacks[-1] + 1 :] if line and not line.startswith(" ")]
        last = f"; last: {after[0][:200]}" if after else ""
    return f"{len(tracebacks)} tracebacks, {warnings} warnings{last}"


def measure(app: App, headers: dict[str, str]) -> None:
    before = load(app.web, headers, TICKER, 200)
    print(f"(load from {before['tool']})")
    report("GET  /markets/SOLUSDT/ticker (baseline, before)", before, 200)
    print(f"  (load average: {load_average()})", flush=True)
    pids = {role: proc.pid for role, proc in app.processes.items()} | {"exchange": SimExchange.pid}
    # Orders import code the ticker did not (the paper exchange, notifications): a load of orders
    # first, so the CPU per order below is the steady state's, not the first requests' imports.
    load(app.web, headers, ORDERS, 201, WARMUP, body=ORDER)
    cpu = {role: cpu_seconds(pid) for role, pid in pids.items()}
    ours = time.process_time()
    orders = load(app.web, headers, ORDERS, 201, ORDER_SECONDS, body=ORDER)
    report(f"POST /orders (paper market buy, {ORDER_SECONDS:.0f} s)", orders, 201, before["rps"])
    if orders["sent"]:
        spent = {role: cpu_seconds(pid) - cpu[role] for role, pid in pids.items()}
        spent["load generator"] = time.process_time() - ours
        used = ", ".join(f"{role} {seconds * 1000 / orders['sent']:.1f}" for role, seconds in spent.items())
        print(f"  (CPU ms per order request, after a warm-up load of orders: {used})")
    print(f"  (load average: {load_average()}; target >= 200 orders/s, p99 <= 250 ms, 0 errors)")
    after = load(app.web, headers, TICKER, 200)
    report("GET  /markets/SOLUSDT/ticker (baseline, after)", after, 200)


if __name__ == "__main__":
    run()
