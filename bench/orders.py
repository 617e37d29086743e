"""Paper exchange figures: placements and matches per second in memory, and order latency against the
simulated exchange's live book over real HTTP (the path a paper order takes, minus the database)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from decimal import Decimal

from trading.exchange.paper import MemoryPaperStore, PaperExchange
from trading.exchange.types import (
    BookLevel,
    OrderBook,
    OrderRequest,
    OrderType,
    Side,
    SymbolRules,
    SymbolStatus,
    TradeSides,
)

RULES = SymbolRules(
    symbol="SOLUSDT",
    base_asset="SOL",
    quote_asset="USDT",
    status=SymbolStatus.ONLINE,
    api_tradable=True,
    spot_trading_allowed=True,
    trade_sides=TradeSides.ALL,
    price_decimals=2,
    quantity_decimals=2,
    min_quantity=Decimal("0.01"),
    min_notional=Decimal(1),
    min_notional_market=Decimal(1),
    max_notional=None,
    max_notional_market=None,
    maker_commission=Decimal(0),
    taker_commission=Decimal("0.0005"),
    order_types=frozenset({OrderType.LIMIT, OrderType.MARKET, OrderType.LIMIT_MAKER}),
)
BOOK = OrderBook(
    "SOLUSDT",
    1,
    bids=tuple(BookLevel(Decimal("127.39") - Decimal("0.01") * i, Decimal(10)) for i in range(100)),
    asks=tuple(BookLevel(Decimal("127.41") + Decimal("0.01") * i, Decimal(10)) for i in range(100)),
)


class StaticMarket:
    async def depth(self, symbol: str, *, limit: int = 100) -> OrderBook:
        return BOOK

    async def symbols(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        return [RULES]


async def _in_memory(n: int = 20_000) -> None:
    store = MemoryPaperStore({"USDT": Decimal(10) ** 12})
    paper = PaperExchange(StaticMarket(), store)  # type: ignore[arg-type]
    start = time.perf_counter()
    for i in range(n):
        await paper.place_order(
            OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, f"m{i}", quote_quantity=Decimal(2000))
        )
    took = time.perf_counter() - start
    print(f"paper market buys (walking 2 levels), in memory: {n / took:,.0f}/s")

    resting = 2_000
    for i in range(resting):
        price = Decimal("127.00") - Decimal("0.01") * (i % 50)
        await paper.place_order(
            OrderRequest("SOLUSDT", Side.BUY, OrderType.LIMIT, f"l{i}", quantity=Decimal(1), price=price)
        )
    crossed = OrderBook("SOLUSDT", 2, bids=(), asks=(BookLevel(Decimal(120), Decimal(10**6)),))
    start = time.perf_counter()
    filled = await paper.match("SOLUSDT", book=crossed)
    took = time.perf_counter() - start
    print(
        f"paper match: {len(filled)} resting orders filled in {took * 1000:.0f} ms "
        f"({len(filled) / took:,.0f}/s)"
    )


async def _against_sim(n: int = 200) -> None:
    try:
        from trading.simexchange.config import SimConfig
        from trading.simexchange.testing import SimExchangeThread
    except ImportError:
        print("against the simulated exchange: not available")
        return
    from trading.exchange.mexc_rest import MexcRestClient

    with SimExchangeThread(SimConfig()) as sim:
        market = MexcRestClient(base_url=sim.base_url)
        paper = PaperExchange(market, MemoryPaperStore({"USDT": Decimal(10**9)}), close_market=market.aclose)
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            await paper.place_order(
                OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, f"s{i}", quote_quantity=Decimal(50))
            )
            latencies.append((time.perf_counter() - start) * 1000)
        await paper.aclose()
    latencies.sort()
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"paper market buy against the sim's live book over HTTP: p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms ({n} orders)"
    )


def run() -> None:
    asyncio.run(_in_memory())
    asyncio.run(_against_sim())


if __name__ == "__main__":
    run()
