"""MEXC client throughput: protobuf frames decoded into value types per second, synthetic and end to end
from the simulated exchange over a real WebSocket."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from trading.exchange.mexc_ws import MexcStream, StreamConfig, Topics
from trading.exchange.orderbook import BookState
from trading.exchange.types import OrderBook
from trading.exchange.ws_decode import Wrapper, decode_frame

SYNTHETIC_FRAMES = 100_000
E2E_SECONDS = 5.0


def _deal_frame(i: int) -> bytes:
    msg = Wrapper(channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT", sendTime=i)
    for j in range(3):
        msg.publicAggreDeals.deals.add(
            price=f"9322{j}.{i % 100:02d}", quantity="0.0443", tradeType=1 + j % 2, time=i
        )
    return msg.SerializeToString()


def _depth_frame(i: int) -> bytes:
    msg = Wrapper(channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT", symbol="BTCUSDT", sendTime=i)
    body = msg.publicAggreDepths
    for j in range(5):
        body.bids.add(price=f"{117000 - j}.{i % 100:02d}", quantity=f"{j}.5")
        body.asks.add(price=f"{117001 + j}.{i % 100:02d}", quantity=f"{j}.25")
    body.fromVersion, body.toVersion = str(i), str(i)
    return msg.SerializeToString()


def _synthetic() -> None:
    frames = [_deal_frame(i) if i % 2 else _depth_frame(i) for i in range(1, SYNTHETIC_FRAMES + 1)]
    start = time.perf_counter()
    events = sum(len(decode_frame(f)) for f in frames)
    took = time.perf_counter() - start
    print(f"decode+convert: {SYNTHETIC_FRAMES / took:,.0f} frames/s ({events} events, {took:.2f} s)")

    book = BookState("BTCUSDT")
    book.load(OrderBook(symbol="BTCUSDT", last_update_id=0, bids=(), asks=()))
    depth = [e for f in frames[1::2] for e in decode_frame(f)]
    start = time.perf_counter()
    for n, event in enumerate(depth, start=1):
        book.apply(dataclasses.replace(event, from_version=n, to_version=n))  # type: ignore[type-var]
    took = time.perf_counter() - start
    print(f"order book apply: {len(depth) / took:,.0f} depth events/s")


async def _end_to_end() -> None:
    try:
        from trading.simexchange.testing import SimExchangeThread
    except ImportError:
        print("end to end: simulated exchange not available")
        return
    with SimExchangeThread() as server:
        stream = MexcStream(server.ws_url, config=StreamConfig())
        symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "MXUSDT"]
        await stream.subscribe(
            [t(s) for s in symbols for t in (Topics.deals, Topics.depth, Topics.book_ticker)]
        )
        await asyncio.wait_for(stream.next_event(), 30)
        start, frames0 = time.perf_counter(), stream.frames
        deadline = start + E2E_SECONDS
        events = 0
        while (now := time.perf_counter()) < deadline:
            try:
                await asyncio.wait_for(stream.next_event(), deadline - now)
                events += 1
            except TimeoutError:
                break
        took = time.perf_counter() - start
        rate = (stream.frames - frames0) / took
        label = f"end to end ({len(symbols)} symbols x 3 channels)"
        print(f"{label}: {rate:,.0f} frames/s, {events / took:,.0f} events/s")
        await stream.aclose()


def run() -> None:
    _synthetic()
    asyncio.run(_end_to_end())
