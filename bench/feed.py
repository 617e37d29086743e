"""Market feed figures: (a) decoded frames per second through the hot path, (b) latency from an exchange
frame arriving to the Channels group_send, (c) fan-out from one market frame to 1,000 browser sockets
through `make run`'s uvicorn live process. Needs `redis-server` on PATH (b and c use a private one on
loopback). About a minute."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench._app import serve

ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = [f"S{i:02d}USDT" for i in range(10)]
MARKET_SYMBOLS = 2000  # a MEXC miniTickers frame carries about this many rows
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
CONNECT_BATCH = 50
FANOUT_FRAMES = 10


# ---- frames ------------------------------------------------------------------------------------------


def _frames(count: int, *, tickers_every: int = 50) -> Iterator[tuple[str, bytes]]:
    """(group, frame) pairs shaped like a busy watched set: depth, deals and kline pushes for 10
    symbols, and a 2,000-row miniTickers frame now and then."""
    from trading.exchange.proto import PushDataV3ApiWrapper_pb2 as pb

    rng = random.Random(7)
    versions = dict.fromkeys(SYMBOLS, 1001)
    now = int(time.time() * 1000)
    for n in range(count):
        sym = SYMBOLS[n % len(SYMBOLS)]
        kind = n % 5
        if n % tickers_every == tickers_every - 1:
            f = pb.PushDataV3ApiWrapper(channel="spot@public.miniTickers.v3.api.pb@24H", sendTime=now)
            for i in range(MARKET_SYMBOLS):
                f.publicMiniTickers.items.add(
                    symbol=f"M{i:04d}USDT", price=f"{1 + rng.random():.6f}", rate="0.0123",
                    zonedRate="0.0123", high="2.1", low="0.9", volume="123456.7", quantity="98765.4",
                )  # fmt: skip
            yield "markets", f.SerializeToString()
            continue
        if kind in (0, 1, 2):
            f = pb.PushDataV3ApiWrapper(
                channel=f"spot@public.aggre.depth.v3.api.pb@100ms@{sym}", symbol=sym, sendTime=now
            )
            v = versions[sym] = versions[sym] + 1
            body = f.publicAggreDepths
            body.fromVersion, body.toVersion = str(v), str(v)
            for _ in range(4):
                body.bids.add(price=f"{100 - rng.randint(0, 50) * 0.01:.2f}", quantity=f"{rng.random():.4f}")
                body.asks.add(
                    price=f"{100.01 + rng.randint(0, 50) * 0.01:.2f}", quantity=f"{rng.random():.4f}"
                )
        elif kind == 3:
            f = pb.PushDataV3ApiWrapper(
                channel=f"spot@public.aggre.deals.v3.api.pb@100ms@{sym}", symbol=sym, sendTime=now
            )
            for _ in range(3):
                f.publicAggreDeals.deals.add(
                    price="100.00", quantity=f"{rng.random():.4f}", tradeType=rng.choice((1, 2)), time=now
                )
        else:
            f = pb.PushDataV3ApiWrapper(
                channel=f"spot@public.kline.v3.api.pb@{sym}@Min1", symbol=sym, sendTime=now
            )
            k = f.publicSpotKline
            k.interval, k.windowStart, k.windowEnd = "Min1", now // 60000 * 60, now // 60000 * 60 + 60
            k.openingPrice, k.closingPrice, k.highestPrice, k.lowestPrice = "100", "100.5", "101", "99"
            k.volume, k.amount = "12.5", "1250"
        yield f"market.{sym}", f.SerializeToString()


class _StubStream:
    """Stands in for the MEXC socket: the bench pushes decoded events into the feed's queue itself."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.topics: set[str] = set()
        self.frames = self.reconnects = 0

    async def subscribe(self, topics: Iterable[str]) -> None:
        self.topics |= set(topics)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        self.topics -= set(topics)

    def emit(self, event: Any) -> None:
        self.queue.put_nowait(event)

    async def next_event(self) -> Any:
        return await self.queue.get()

    async def aclose(self) -> None:
        return None


class _StubExchange:
    def __init__(self) -> None:
        self.stream = _StubStream()

    def market_stream(self) -> Any:
        return self.stream

    def order_book(self, symbol: str, *, snapshot_depth: int = 1000) -> Any:
        from trading.exchange.orderbook import LocalOrderBook
        from trading.exchange.types import BookLevel, OrderBook

        async def snapshot() -> OrderBook:
            bids = tuple(BookLevel(Decimal("100") - Decimal(i) / 100, Decimal("1")) for i in range(200))
            asks = tuple(BookLevel(Decimal("100.01") + Decimal(i) / 100, Decimal("1")) for i in range(200))
            return OrderBook(symbol=symbol, last_update_id=1001, bids=bids, asks=asks)

        return LocalOrderBook(symbol, snapshot)

    async def tickers(self, symbols: Any = None) -> list[Any]:
        return []

    async def klines(self, query: Any) -> list[Any]:
        return []

    async def aclose(self) -> None:
        return None


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


# ---- (a) hot path -----------------------------------------------------------------------------------


async def _hot_path(frames: list[tuple[str, bytes]]) -> tuple[float, int]:
    from channels.layers import InMemoryChannelLayer

    from trading.exchange.ws_decode import decode_frame
    from trading.feed.service import FeedConfig, MarketFeed

    feed = MarketFeed(
        _StubExchange(), config=FeedConfig(symbols=tuple(SYMBOLS)), layer=InMemoryChannelLayer()
    )
    for sym in SYMBOLS:
        await feed.watch(sym, permanent=True)
    events = 0
    started = time.perf_counter()
    for _group, frame in frames:
        for event in decode_frame(frame):
            await feed.handle(event)
            events += 1
    return time.perf_counter() - started, events


# ---- (b) frame -> group_send -----------------------------------------------------------------------


class _TimedLayer:
    """Wraps a channel layer; each group_send closes the wait of every frame queued for that group."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.pending: dict[str, list[float]] = defaultdict(list)
        self.latencies: list[float] = []
        self.sends = 0

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        waiting, self.pending[group] = self.pending[group], []
        now = time.perf_counter()
        self.latencies.extend(now - t for t in waiting)
        self.sends += 1
        await self.layer.group_send(group, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)


async def _publish_latency(
    layer: Any, frames: list[tuple[str, bytes]], rate: int
) -> tuple[_TimedLayer, float]:
    from trading.exchange.ws_decode import decode_frame
    from trading.feed.service import FeedConfig, MarketFeed

    timed = _TimedLayer(layer)
    exchange = _StubExchange()
    cfg = FeedConfig(symbols=tuple(SYMBOLS), rest_tickers_every_s=3600, heartbeat_every_s=3600)
    feed = MarketFeed(exchange, config=cfg, layer=timed)
    feed.write_snapshot = _noop  # type: ignore[method-assign]  # keep the cache out of this figure
    feed.flush_candles = _noop  # type: ignore[method-assign]
    task = asyncio.create_task(feed.run())
    await feed.started.wait()
    started = time.perf_counter()
    for n, (group, frame) in enumerate(frames):
        # Frames arrive as a socket would hand them over: paced, decoded one at a time on this loop.
        due = started + n / rate
        if (lag := due - time.perf_counter()) > 0:
            await asyncio.sleep(lag)
        arrived = time.perf_counter()
        for event in decode_frame(frame):
            exchange.stream.emit(event)
        timed.pending[group].append(arrived)
    await asyncio.sleep(0.5)
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return timed, elapsed


async def _noop() -> None:
    return None


# ---- (c) fan-out through the live process (uvicorn) -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port}")


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench/feed.py needs redis-server (make system-deps)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


_SETUP = """
import django; django.setup()
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
from trading.models import Symbol
user = User.objects.create_user(email="bench@example.com", password="bench-password-123")
Symbol.objects.create(symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT")
s = SessionStore()
s["_auth_user_id"] = str(user.pk)
s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
s["_auth_user_hash"] = user.get_session_auth_hash()
s.create()
print(s.session_key)
"""


def _layer_config(redis_url: str, backend: str) -> dict[str, Any]:
    # redis-py 8 reads with a 5 s socket timeout, the same as channels_redis's blocking pop: a longer one
    # keeps an idle receive from failing (see the feed's report).
    host = {"address": redis_url, "socket_timeout": 15}
    return {"BACKEND": f"channels_redis.{backend}", "CONFIG": {"hosts": [host]}}


def _layer(redis_url: str, backend: str = "core.RedisChannelLayer") -> Any:
    from django.utils.module_loading import import_string

    config = _layer_config(redis_url, backend)
    return import_string(config["BACKEND"])(**config["CONFIG"])


async def _fanout(port: int, session_key: str, redis_url: str, backend: str) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    layer = _layer(redis_url, backend)
    latencies: list[float] = []
    per_frame: dict[int, list[float]] = defaultdict(list)
    ready = 0
    failures: list[str] = []

    async def client() -> None:
        nonlocal ready
        headers = {"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"}
        url = f"ws://127.0.0.1:{port}/ws/live/?groups=market.BTCUSDT"
        try:
            async with connect(url, additional_headers=headers, open_timeout=30, proxy=None) as ws:
                json.loads(await ws.recv())  # {"type": "subscribed", ...}
                ready += 1
                async for text in ws:
                    now = time.time()
                    msg = json.loads(text)
                    if msg.get("type") == "bench" and msg["n"] >= 0:
                        latencies.append(now - msg["sent"])
                        per_frame[msg["n"]].append(now - msg["sent"])
        except Exception as exc:
            failures.append(type(exc).__name__)

    async def keepalive() -> None:
        # Some traffic while connecting (see _layer); n = -1 frames are not measured.
        while True:
            await layer.group_send("market.BTCUSDT", {"type": "live.text", "text": '{"type":"bench","n":-1}'})
            await asyncio.sleep(1)

    pinger = asyncio.create_task(keepalive())
    tasks: list[asyncio.Task[None]] = []
    connect_started = time.perf_counter()
    for start in range(0, CLIENTS, CONNECT_BATCH):
        tasks += [asyncio.create_task(client()) for _ in range(CONNECT_BATCH)]
        deadline = time.perf_counter() + 30
        while ready + len(failures) < start + CONNECT_BATCH and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    connect_s = time.perf_counter() - connect_started
    pinger.cancel()
    await asyncio.sleep(1)
    for n in range(FANOUT_FRAMES):
        text = json.dumps({"type": "bench", "n": n, "sent": time.time()})
        await layer.group_send("market.BTCUSDT", {"type": "live.text", "text": text})
        await asyncio.sleep(0.7)
    await asyncio.sleep(2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    last = [max(v) for v in per_frame.values() if v]
    return {
        "connected": ready,
        "failures": failures,
        "connect_s": connect_s,
        "latencies": latencies,
        "delivered": len(latencies),
        "last": last,
    }


def _fanout_run(redis_url: str, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        env = dict(
            os.environ,
            BRUTE_VAR_DIR=var,
            DATABASE_URL=f"file:{var}/bench.db",
            REDIS_URL=redis_url,
            DJANGO_SETTINGS_MODULE="bench._feed_settings",
            BENCH_CHANNEL_LAYER=json.dumps(_layer_config(redis_url, backend)),
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run(
            [python, "-c", _SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        session_key = out.stdout.strip().splitlines()[-1]
        # The live process as `make run` starts it (runbrute's uvicorn command line and environment).
        with serve(env, logs=Path(var), roles=("live",)) as app:
            port = int(app.live.rsplit(":", 1)[1])
            return asyncio.run(_fanout(port, session_key, redis_url, backend))


# ---- report -----------------------------------------------------------------------------------------


def run() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    import logging

    from channels.layers import InMemoryChannelLayer

    logging.getLogger("trading.feed").setLevel(logging.WARNING)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (other jobs share these cores)"
    )

    frames = list(_frames(20_000))
    symbol_frames = [f for f in frames if f[0] != "markets"]
    ticker_frames = [f for f in frames if f[0] == "markets"]
    for label, chosen in (("depth/deals/kline frames of 10 watched symbols", symbol_frames),
                          (f"miniTickers frames of {MARKET_SYMBOLS:,} rows", ticker_frames)):  # fmt: skip
        elapsed, events = asyncio.run(_hot_path(chosen))
        print(
            f"(a) hot path, decode + apply on one core, {label}: {len(chosen) / elapsed:,.0f} frames/s "
            f"({events / elapsed:,.0f} events/s over {len(chosen):,} frames)"
        )

    with _redis() as redis_url:
        layers = (("InMemoryChannelLayer", InMemoryChannelLayer()), ("RedisChannelLayer", _layer(redis_url)))
        for rate, count in ((300, 1_800), (20, 120)):
            paced = list(_frames(count, tickers_every=100))
            for name, layer in layers:
                timed, took = asyncio.run(_publish_latency(layer, paced, rate=rate))
                lat = [x * 1000 for x in timed.latencies]
                print(
                    f"(b) frame -> group_send, {name}, {rate} frames/s for {took:.0f} s "
                    f"(coalescing 100 ms per symbol, 250 ms markets): p50 {_pct(lat, 50):.1f} ms, "
                    f"p99 {_pct(lat, 99):.1f} ms, "
                    f"{timed.sends} group_sends for {len(paced):,} frames"
                )
        for backend in ("core.RedisChannelLayer", "pubsub.RedisPubSubChannelLayer"):
            _report_fanout(backend.split(".")[1], _fanout_run(redis_url, backend))


def _report_fanout(name: str, result: dict[str, Any]) -> None:
    lat = [x * 1000 for x in result["latencies"]]
    expected = FANOUT_FRAMES * result["connected"]
    if not lat:
        print(
            f"(c) fan-out, {name}: nothing delivered; {result['connected']} connected, "
            f"{result['failures'][:5]}"
        )
        return
    print(
        f"(c) fan-out through the live process (uvicorn) + {name} "
        "(bench clients in one process on the same 2 cores): "
        f"{result['connected']}/{CLIENTS} sockets connected in batches of {CONNECT_BATCH} in "
        f"{result['connect_s']:.1f} s ({len(result['failures'])} failed); {FANOUT_FRAMES} frames, "
        f"{result['delivered']:,}/{expected:,} deliveries: p50 {_pct(lat, 50):.0f} ms, "
        f"p99 {_pct(lat, 99):.0f} ms, "
        f"last client per frame median {statistics.median(result['last']) * 1000:.0f} ms"
    )
