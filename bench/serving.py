"""Issue 18: HTTP and live data at the server's limit. Every figure is printed beside a baseline of the
same run, on the same machine, with the same load generator.

The servers are started with `make run`'s own command lines (runbrute's PROCESSES): gunicorn for
pages and the API ("web"), uvicorn for the WebSockets ("live"), against a temporary database and var/.

1. HTTP, 50 connections: a trivial Django view (default middleware, no database) on the web
   server is the baseline; then GET /api/v1/markets/SOLUSDT/ticker with a personal token and
   GET /api/v1/me with a JWT. Rate limits stay on (set high), so their counting is in every figure.
   Each p99 is printed beside the trivial view's p99 of the same run and set-up, and the ticker's
   against the 50 ms target. Load comes from wrk when installed (one thread), else from our own
   HTTP/1.1 load client in a process of its own (bench/_load.py); both share the 2 cores with the
   server, so the trivial view's figures are the machine's own ceiling for the set-up.
1b. The trivial view and the ticker on other WEB_WORKERS x WEB_THREADS set-ups, started together
   and measured in interleaved rounds (how config/gunicorn.py's default was chosen).
2. One frame to 1,000 sockets: through the live process (an event handed to it the way other
   processes do, then its broadcaster), against a plain `websockets` server (on uvloop, as uvicorn
   runs) calling `websockets.broadcast` for 1,000 sockets of the same client; latency from the trigger to each
   socket's receipt, p50/p99, and frames lost, after one untimed warm-up frame to each server.
3. 1,000 simultaneous connects to each: how many were accepted.
4. A price move on the bundled exchange to the first browser socket: each hop (exchange push,
   feed decode, apply, coalescing/publish, layer, socket write, browser) from a live process whose
   feed and broadcaster are traced (bench/_live_traced.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from bench import _load
from bench._app import runbrute

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 50
SECONDS = 5
ROUNDS_HTTP = 3
SOCKETS = 1000
ROUNDS = 10

SETTINGS = """
from config.settings import *  # noqa: F403
API_RATE_LIMIT_IP = "100000000/min"
API_RATE_LIMIT_TOKEN = "100000000/min"
ROOT_URLCONF = "bench_serving_urls"
"""
URLS = """
from django.http import JsonResponse
from django.urls import path

from config.access import ACCESS, Access
from config.urls import urlpatterns as site

ACCESS["bench_trivial"] = Access.PUBLIC


def trivial(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/trivial", trivial, name="bench_trivial"), *site]
"""
SETUP = """
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import Role, User
from accounts.tokens import api_token_create, token_pair_issue
from trading.feed.store import snapshot_write
from trading.models import Symbol
user = User.objects.create_user("bench@example.com", "bench password 123", role=Role.TRADER)
Symbol.objects.get_or_create(symbol="SOLUSDT", defaults={"base_asset": "SOL", "quote_asset": "USDT"})
row = {"price": "127.5", "change": "1.2", "high": "130", "low": "120", "volume": "1000",
       "quote_volume": "127500", "bid": "127.4", "ask": "127.6"}
snapshot_write(tickers={"SOLUSDT": row}, books={}, watched=[])
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(token_pair_issue(user=user).access)
print(api_token_create(user=user, name="bench", scopes=["read"])[1])
print(session.session_key)
"""
RAW_SERVER = """
import asyncio, sys
from websockets.asyncio.server import broadcast, serve

clients = set()

async def handler(ws):
    if ws.request.path == "/control":
        async for text in ws:
            broadcast(clients, text)
        return
    clients.add(ws)
    try:
        await ws.send("hello")
        await ws.wait_closed()
    finally:
        clients.discard(ws)

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), backlog=2048, max_queue=None):
        await asyncio.Future()

try:  # the event loop uvicorn runs the live process on, for a like-for-like baseline
    import uvloop
except ImportError:
    asyncio.run(main())
else:
    uvloop.run(main())
"""


def _command(name: str, **context: Any) -> list[str]:
    process = next(p for p in runbrute().PROCESSES if p.name == name)  # the app's registry made ready
    return shlex.split(process.command.format(python=sys.executable, host="127.0.0.1", **context))


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench_serving_settings",
        # The caller's PYTHONPATH last (a trial install of an optional server, e.g. granian).
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        BRUTE_VAR_DIR=str(tmp / "var"),
        DATABASE_URL=f"file:{tmp / 'bench.db'}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "k" * 60,
        LOG_LEVEL="WARNING",
        MEXC_SIMULATED="true",
        MEXC_BASE_URL="http://127.0.0.1:9",  # nothing listens: the feed stays idle unless a test sets one
        MEXC_WS_URL="ws://127.0.0.1:9/ws",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@contextmanager
def _serve(argv: list[str], env: dict[str, str], *, stdout: Any = subprocess.DEVNULL) -> Iterator[Any]:
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for(url: str, proc: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        with suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def _prepare(tmp: Path) -> list[str]:
    (tmp / "bench_serving_settings.py").write_text(SETTINGS)
    (tmp / "bench_serving_urls.py").write_text(URLS)
    env = _env(tmp)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    done = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.split()[-3:]


def _free_port() -> int:
    from tests.conftest import free_port

    return free_port()


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# ---- 1. HTTP ----------------------------------------------------------------------------------------


SETUPS = [(2, 4), (2, 2), (4, 1), (4, 2)]  # WEB_WORKERS x WEB_THREADS compared in part 1b
P99_TARGET_MS = 50.0


def _http_cases(access: str, pat: str) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("trivial Django view (baseline)", "/bench/trivial", {}),
        (
            "market ticker, personal token",
            "/api/v1/markets/SOLUSDT/ticker",
            {"Authorization": f"Bearer {pat}"},
        ),
        ("/api/v1/me, JWT", "/api/v1/me", {"Authorization": f"Bearer {access}"}),
    ]


def _measure_cases(
    base: str, cases: list[tuple[str, str, dict[str, str]]], *, rounds: int, seconds: float
) -> list[tuple[str, dict[str, float]]]:
    return _measure_interleaved([base], cases, rounds=rounds, seconds=seconds)[0]


def _measure_interleaved(
    bases: list[str], cases: list[tuple[str, str, dict[str, str]]], *, rounds: int, seconds: float
) -> list[list[tuple[str, dict[str, float]]]]:
    """Each case on each server, in rounds that visit every server and case in turn (other jobs on the
    machine come and go: each row then sees the same machine); the median run of each, per server."""
    for base in bases:
        for _label, path, headers in cases:  # warm every worker's caches and imports
            _load.measure(base + path, headers, connections=CLIENTS, seconds=1)
    runs: list[dict[str, list[dict[str, float]]]] = [{label: [] for label, _, _ in cases} for _ in bases]
    for _round in range(rounds):
        for n, base in enumerate(bases):
            for label, path, headers in cases:
                runs[n][label].append(
                    _load.measure(base + path, headers, connections=CLIENTS, seconds=seconds)
                )
    return [[(label, _median_run(mine[label])) for label, _, _ in cases] for mine in runs]


def _setup_of(env: dict[str, str]) -> str:
    from config import gunicorn as conf

    workers = env.get("WEB_WORKERS") or str(conf.workers)
    threads = env.get("WEB_THREADS") or str(conf.threads)
    return f"{workers} workers x {threads} threads ({conf.worker_class.rsplit('.', 1)[-1]})"


def _http(tmp: Path, tokens: list[str]) -> None:
    access, pat, _session = tokens
    port = _free_port()
    env = _env(tmp, PORT=str(port))
    print(
        f"HTTP, {CLIENTS} connections kept alive, {SECONDS} s a run, median of {ROUNDS_HTTP} interleaved "
        f"runs, load from {_load.tool()}; web = `make run`'s gunicorn, {_setup_of(env)}"
    )
    with _serve(_command("web", port=port), env) as proc:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/bench/trivial", proc)
        results = _measure_cases(base, _http_cases(access, pat), rounds=ROUNDS_HTTP, seconds=SECONDS)
    baseline = results[0][1]
    for label, result in results:
        print(
            f"  {label:<34} {result['rps']:8.0f} req/s  {result['rps'] / baseline['rps']:5.2f}x baseline   "
            f"p50 {result['p50']:6.1f} ms   p99 {result['p99']:6.1f} ms "
            f"({result['p99'] / baseline['p99']:4.2f}x baseline's)   non-2xx {result['errors']:.0f}"
            f"{_spread(result)}"
        )
    ticker = results[1][1]
    verdict = "met" if ticker["p99"] <= P99_TARGET_MS else "missed"
    print(
        f"  ticker p99 {ticker['p99']:.1f} ms against the {P99_TARGET_MS:.0f} ms target: {verdict}; "
        f"the trivial view's own p99 on the same set-up and run: {baseline['p99']:.1f} ms"
    )


def _spread(result: dict[str, float]) -> str:
    """The spread of the connections' mean latencies (a crowded worker shows as a wide one); wrk does
    not report it per connection (NaN), so it is printed only from our own load client."""
    low, high = result["conn_mean_min"], result["conn_mean_max"]
    if math.isnan(low) or math.isnan(high):
        return ""
    return f"   connections' means {low:.1f}-{high:.1f} ms"


def _granian(port: int, workers: int, threads: int) -> list[str] | None:
    """granian (a Rust HTTP server with a WSGI interface) serving the same app, when importable: one
    more set-up for part 1b, for comparison only (`make run` uses gunicorn)."""
    if importlib.util.find_spec("granian") is None:
        return None
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--backlog",
        "2048",
        "--no-ws",
        "--log-level",
        "warning",
        "config.wsgi:application",
    ]


def _http_setups(tmp: Path, tokens: list[str]) -> None:
    """1b. The same trivial view and ticker on other worker x thread set-ups, all started together and
    measured in interleaved rounds (each round visits every set-up), so each row sees the same machine
    (how the default was chosen)."""
    access, pat, _session = tokens
    cases = _http_cases(access, pat)[:2]
    rounds, seconds = 3, 3.0
    print(
        f"\nHTTP set-ups (WEB_WORKERS x WEB_THREADS), {CLIENTS} connections, {seconds:.0f} s a run, "
        f"median of {rounds} interleaved rounds"
    )
    with ExitStack() as stack:
        bases = []
        for workers, threads in SETUPS:
            port = _free_port()
            env = _env(tmp, PORT=str(port), WEB_WORKERS=str(workers), WEB_THREADS=str(threads))
            proc = stack.enter_context(_serve(_command("web", port=port), env))
            bases.append((f"{workers} x {threads}", f"http://127.0.0.1:{port}", proc))
        port = _free_port()
        granian = _granian(port, *SETUPS[0])
        if granian is not None:
            proc = stack.enter_context(_serve(granian, _env(tmp, PORT=str(port))))
            bases.append((f"granian {SETUPS[0][0]} x {SETUPS[0][1]}", f"http://127.0.0.1:{port}", proc))
        for _label, base, proc in bases:
            _wait_for(f"{base}/bench/trivial", proc)
        measured = _measure_interleaved([b for _, b, _ in bases], cases, rounds=rounds, seconds=seconds)
        rows = [(label, results) for (label, _, _), results in zip(bases, measured, strict=True)]
    for label, results in rows:
        (_, trivial), (_, ticker) = results
        print(
            f"  {label:<14} trivial {trivial['rps']:6.0f} req/s p99 {trivial['p99']:6.1f} ms   "
            f"ticker {ticker['rps']:6.0f} req/s ({ticker['rps'] / trivial['rps']:4.2f}x) "
            f"p50 {ticker['p50']:5.1f} ms p99 {ticker['p99']:6.1f} ms"
        )


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median rate (its own latencies with it)."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


# ---- 2./3. WebSockets -------------------------------------------------------------------------------


async def _open(url: str, *, headers: dict[str, str] | None, origin: str | None) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(url, additional_headers=headers, origin=origin, open_timeout=60, max_queue=None)  # type: ignore[arg-type]
    await asyncio.wait_for(ws.recv(), 60)  # the server's first frame: "subscribed" / "hello"
    return ws


async def _connect_all(
    url: str, *, headers: dict[str, str] | None, origin: str | None
) -> tuple[list[Any], int]:
    results = await asyncio.gather(
        *(_open(url, headers=headers, origin=origin) for _ in range(SOCKETS)), return_exceptions=True
    )
    sockets = [r for r in results if not isinstance(r, BaseException)]
    return sockets, len(results) - len(sockets)


async def _fanout(sockets: list[Any], trigger: Any) -> dict[str, Any]:
    received: list[list[float]] = [[] for _ in range(ROUNDS)]

    async def reader(ws: Any) -> None:
        with suppress(Exception):
            async for text in ws:
                if isinstance(text, str) and text.startswith('{"bench":'):
                    n = json.loads(text)["bench"]
                    received[n].append(time.perf_counter())

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    latencies: list[float] = []
    pad = "x" * 900  # about the size of a book frame
    # One untimed frame first, for both servers: the first trigger opens its connection (for Brute an
    # HTTP request to the live process, 25-40 ms cold), which would otherwise be one round in ten and
    # so the whole p99.
    await trigger(json.dumps({"warm": True, "pad": pad}, separators=(",", ":")))
    await asyncio.sleep(0.4)
    for n in range(ROUNDS):
        sent = time.perf_counter()
        await trigger(json.dumps({"bench": n, "pad": pad}, separators=(",", ":")))
        await asyncio.sleep(0.4)
        latencies += [(t - sent) * 1000 for t in received[n]]
    await asyncio.sleep(1.0)
    for task in readers:
        task.cancel()
    got = sum(len(r) for r in received)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"p50": q[49], "p99": q[98], "lost": ROUNDS * len(sockets) - got, "sockets": len(sockets)}


async def _brute_ws(live_port: int, session: str, key: str) -> tuple[dict[str, Any], tuple[int, int]]:
    url = f"ws://127.0.0.1:{live_port}/ws/live/?groups=markets"
    headers = {"Cookie": f"sessionid={session}"}
    sockets, failed = await _connect_all(url, headers=headers, origin=f"http://127.0.0.1:{live_port}")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{live_port}") as http:

        async def trigger(text: str) -> None:
            body = {"group": "markets", "message": {"type": "live.text", "text": text}}
            response = await http.post("/internal/live/publish", json=body, headers={"x-brute-live-key": key})
            response.raise_for_status()

        result = await _fanout(sockets, trigger)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return result, (len(sockets), failed)


async def _raw_ws(port: int) -> tuple[dict[str, Any], tuple[int, int]]:
    from websockets.asyncio.client import connect

    sockets, failed = await _connect_all(f"ws://127.0.0.1:{port}/", headers=None, origin=None)
    async with connect(f"ws://127.0.0.1:{port}/control") as control:
        result = await _fanout(sockets, control.send)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return result, (len(sockets), failed)


def _live_key(env: dict[str, str]) -> str:
    code = "import django; django.setup(); from config.livebus import publish_key; print(publish_key())"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _websockets(tmp: Path, tokens: list[str]) -> None:
    _raise_fd_limit()
    session = tokens[2]
    live_port, raw_port = _free_port(), _free_port()
    env = _env(tmp, LIVE_WS_PORT=str(live_port))
    key = _live_key(env)
    print(f"\nWebSockets: {SOCKETS} sockets of one client process, {ROUNDS} frames of ~1 KB each")
    with _serve([sys.executable, "-c", RAW_SERVER, str(raw_port)], env) as raw_proc:
        from tests.conftest import wait_for_port

        wait_for_port(raw_port, timeout=30)
        if raw_proc.poll() is not None:
            raise RuntimeError("the raw websockets server did not start")
        raw, raw_connects = asyncio.run(_raw_ws(raw_port))
    with _serve(_command("live", live_port=live_port), {**env, "LIVE_FORWARD": "false"}) as proc:
        _wait_for(f"http://127.0.0.1:{live_port}/healthz", proc)
        brute, brute_connects = asyncio.run(_brute_ws(live_port, session, key))
    print(
        f"  {'raw websockets.broadcast (baseline)':<38} p50 {raw['p50']:6.1f} ms   "
        f"p99 {raw['p99']:6.1f} ms   "
        f"lost {raw['lost']} of {ROUNDS * raw['sockets']}"
    )
    ratio = brute["p99"] / raw["p99"] if raw["p99"] else float("nan")
    print(
        f"  {'Brute live process (broadcaster)':<38} p50 {brute['p50']:6.1f} ms   "
        f"p99 {brute['p99']:6.1f} ms   "
        f"lost {brute['lost']} of {ROUNDS * brute['sockets']}   p99 {ratio:.2f}x baseline"
    )
    print(f"\n{SOCKETS} simultaneous connects (each counted once its first frame arrived)")
    print(
        f"  {'raw websockets server (baseline)':<38} accepted {raw_connects[0]:5d}   failed {raw_connects[1]}"
    )
    print(f"  {'Brute live process':<38} accepted {brute_connects[0]:5d}   failed {brute_connects[1]}")


# ---- 4. Price move -> first browser -------------------------------------------------------------------


async def _price_hops(
    live_port: int, session: str, sim: Any, lines: Any, moves: int
) -> list[dict[str, float]]:
    from decimal import Decimal

    from bench._live_traced import MARKER

    url = f"ws://127.0.0.1:{live_port}/ws/live/?groups=market.SOLUSDT"
    ws = await _open(url, headers={"Cookie": f"sessionid={session}"}, origin=f"http://127.0.0.1:{live_port}")
    results = []
    try:
        await asyncio.sleep(3)  # the feed subscribes the symbol's book and trades
        for n in range(moves):
            marker = f"{700 + 10 * n}"  # the move to 700.7, 710.7, ... shows as a price of 700.6-700.8
            await asyncio.to_thread(lines.arm, marker)
            moved = time.time()
            sim.set_price("SOLUSDT", Decimal(f"{marker}.7"))
            while True:
                text = await asyncio.wait_for(ws.recv(), 30)
                if marker in MARKER.findall(text):
                    seen = time.time()
                    break
            hops = await asyncio.to_thread(lines.collect, marker, 5.0)
            results.append({"moved": moved, **hops, "browser": seen})
            await asyncio.sleep(1.0)
    finally:
        await ws.close()
    return results


class _TraceLines:
    """Reads the traced live process's hop lines ({"marker", "hop", "t"}) from its stdout."""

    def __init__(self, stream: Any) -> None:
        import queue
        import threading

        self.queue: Any = queue.Queue()
        self.marker = ""
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for raw in stream:
            with suppress(ValueError):
                self.queue.put(json.loads(raw))

    def arm(self, marker: str) -> None:
        self.marker = marker
        with suppress(Exception):
            while True:
                self.queue.get_nowait()

    def collect(self, marker: str, timeout: float) -> dict[str, float]:
        import queue

        hops: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and "written" not in hops:
            with suppress(queue.Empty):
                line = self.queue.get(timeout=0.2)
                if line.get("marker") == marker:
                    hops.setdefault(line["hop"], line["t"])
        return hops


def _price_to_browser(tmp: Path, tokens: list[str]) -> None:
    from trading.simexchange.config import SimConfig
    from trading.simexchange.testing import SimExchangeThread

    session = tokens[2]
    with SimExchangeThread(SimConfig(tick_seconds=0.2, push_seconds=0.1)) as sim:
        live_port = _free_port()
        env = _env(
            tmp,
            LIVE_WS_PORT=str(live_port),
            MEXC_BASE_URL=sim.base_url,
            MEXC_WS_URL=sim.ws_url,
            LIVE_FORWARD="false",
        )
        argv = [sys.executable, "-m", "bench._live_traced", str(live_port)]
        with _serve(argv, env, stdout=subprocess.PIPE) as proc:
            _wait_for(f"http://127.0.0.1:{live_port}/healthz", proc)
            lines = _TraceLines(proc.stdout)
            results = asyncio.run(_price_hops(live_port, session, sim, lines, moves=5))
    order = ["moved", "pushed", "decoded", "applied", "published", "layer", "browser"]
    names = {
        "pushed": "exchange push (waits for its next push)",
        "decoded": "feed decode",
        "applied": "apply to market state",
        "published": "coalescing, frame encoded, group send",
        "layer": "channel layer to the broadcaster",
        "browser": "broadcaster write, socket, browser",
    }
    print(
        "\nPrice move on the bundled exchange (book pushes every 100 ms) to the first browser socket, "
        "median of moves"
    )
    for a, b in itertools.pairwise(order):
        spans = [(r[b] - r[a]) * 1000 for r in results if a in r and b in r]
        if spans:
            print(f"  {names[b]:<44} {statistics.median(spans):7.1f} ms")
    writes = [(r["written"] - r["layer"]) * 1000 for r in results if "written" in r and "layer" in r]
    if writes:
        print(f"  {'  of which the broadcaster writing the group':<44} {statistics.median(writes):7.1f} ms")
    beyond = [(r["browser"] - r["pushed"]) * 1000 for r in results if "pushed" in r]
    total = [(r["browser"] - r["moved"]) * 1000 for r in results]
    if beyond:
        print(f"  {'beyond the exchange push (target <= 150 ms)':<44} {statistics.median(beyond):7.1f} ms")
    print(f"  {'move to browser, in all':<44} {statistics.median(total):7.1f} ms   ({len(results)} moves)")


def run(only: str = "") -> None:
    import django

    django.setup()  # for runbrute's table and the bundled exchange; the servers use their own settings
    print(f"load average {os.getloadavg()[0]:.2f} (other jobs share this machine)")
    print(f"machine: {os.cpu_count()} cores shared by the servers and the load generator")
    with tempfile.TemporaryDirectory(prefix="brute-bench-serving-") as name:
        tmp = Path(name)
        tokens = _prepare(tmp)
        parts = {"http": _http, "setups": _http_setups, "websockets": _websockets, "price": _price_to_browser}
        for name, part in parts.items():
            if only in ("", name):
                part(tmp, tokens)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
