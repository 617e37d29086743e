"""Simulated MEXC: matching throughput and WebSocket fan-out.

1. Engine: LIMIT orders that cross the book (validate, lock, match, settle fees, record trades),
   in-process, then the same through signed REST over real HTTP.
2. WebSocket: 100 clients each subscribed to aggre.deals + aggre.depth + aggre.bookTicker on BTCUSDT;
   counts binary frames the clients receive per second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import websockets

from trading.simexchange.config import SimConfig
from trading.simexchange.rules import OrderRequest
from trading.simexchange.server import SimExchange
from trading.simexchange.testing import SimExchangeThread

SYMBOL = "SOLUSDT"
SUBSCRIBERS = 100
WS_SECONDS = 6.0


def engine_orders_per_second(count: int = 20_000) -> tuple[float, int]:
    sim = SimExchange(SimConfig(always_active=(SYMBOL,)))
    sim.set_balance("USDT", Decimal(10**9))
    sim.set_balance("SOL", Decimal(10**7))
    sym = sim.market.symbols[SYMBOL]
    now = sim.now()
    sim.engine.activate(sym, now)
    fills_before = len(sim.account.trades)
    start = time.perf_counter()
    for index in range(count):
        side = "BUY" if index % 2 else "SELL"
        # Alternating crossing orders: each one takes what the previous one left resting.
        price = sym.round_price(Decimal(repr(sym.fair)))
        req = OrderRequest(SYMBOL, side, "LIMIT", Decimal("0.5"), None, price, None)
        sim.engine.place(sim.account, req, now)
        if index % 500 == 0:
            sim.engine.tick_symbol(sym, now)
    elapsed = time.perf_counter() - start
    return count / elapsed, len(sim.account.trades) - fills_before


def rest_orders_per_second(exchange: SimExchangeThread, count: int = 1_000) -> float:
    exchange.set_balance("USDT", Decimal(10**9))
    exchange.set_balance("SOL", Decimal(10**7))
    with httpx.Client(base_url=exchange.base_url) as http:
        start = time.perf_counter()
        for index in range(count):
            params = {
                "symbol": SYMBOL,
                "side": "BUY" if index % 2 else "SELL",
                "type": "MARKET",
                "quantity": "0.1",
            }
            query = urlencode({**params, "timestamp": int(time.time() * 1000)})
            digest = hmac.new(exchange.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            response = http.post(
                f"/api/v3/order?{query}&signature={digest}", headers={"X-MEXC-APIKEY": exchange.api_key}
            )
            assert response.status_code == 200, response.text
        return count / (time.perf_counter() - start)


async def _subscriber(url: str, topics: list[str], counter: list[int], stop: asyncio.Event) -> None:
    async with websockets.connect(url, max_queue=None) as ws:
        await ws.send(f'{{"method":"SUBSCRIPTION","params":{topics!r},"id":1}}'.replace("'", '"'))
        while not stop.is_set():
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            if isinstance(frame, bytes):
                counter[0] += 1


async def _fan_out(url: str) -> tuple[float, int]:
    topics = [
        f"spot@public.aggre.deals.v3.api.pb@10ms@{SYMBOL}",
        f"spot@public.aggre.depth.v3.api.pb@10ms@{SYMBOL}",
        f"spot@public.aggre.bookTicker.v3.api.pb@10ms@{SYMBOL}",
    ]
    counter, stop = [0], asyncio.Event()
    tasks = [asyncio.create_task(_subscriber(url, topics, counter, stop)) for _ in range(SUBSCRIBERS)]
    await asyncio.sleep(1.0)  # let every subscription land before counting
    counter[0] = 0
    start = time.perf_counter()
    await asyncio.sleep(WS_SECONDS)
    received, elapsed = counter[0], time.perf_counter() - start
    stop.set()
    await asyncio.gather(*tasks)
    return received / elapsed, received


def run() -> None:
    print("engine: alternating 0.5 SOL LIMIT orders at the walk price on SOLUSDT (crossing the book)")
    rate, fills = engine_orders_per_second()
    print(f"  in-process: {rate:,.0f} orders/s matched, {fills:,} fills settled with fees and locks")
    with SimExchangeThread(SimConfig(rate_limit_weight=10**9)) as exchange:
        print("REST: signed POST /api/v3/order MARKET 0.1 SOL, one client, sequential")
        print("  (default market: 6 active symbols, 4 walk ticks/s)")
        print(f"  over HTTP: {rest_orders_per_second(exchange):,.0f} orders/s")
    config = SimConfig(
        always_active=(SYMBOL,), tick_seconds=0.01, push_seconds=0.01, taker_orders_per_second=50
    )
    with SimExchangeThread(config) as exchange:
        print(
            f"WebSocket: {SUBSCRIBERS} clients x 3 channels (deals, depth, bookTicker @10ms) on {SYMBOL}\n"
            "  busy market: "
            f"walk tick {config.tick_seconds}s, {config.taker_orders_per_second:.0f} taker orders/s, "
            f"push every {config.push_seconds}s, {WS_SECONDS:.0f}s window; clients share the process"
        )
        frames_per_second, received = asyncio.run(_fan_out(exchange.ws_url))
        sent = exchange.call(lambda: exchange.sim.hub.frames_sent)
        print(f"  {frames_per_second:,.0f} frames/s received ({received:,} in the window, {sent:,} in all)")
        print(f"  = {frames_per_second / SUBSCRIBERS:,.1f} frames/s per subscriber")
