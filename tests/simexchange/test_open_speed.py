"""What the exchange does around a listing's open, done faster and never skipped (`bench sniper`
measures its acceptance times): a listing opens at its open time, the simulated quotes move only
when the walk crosses a grid line, garbage is collected between symbols, the rate limiter's window
is not summed per request, and a plain query string is split without parse_qsl's unquoting."""

from __future__ import annotations

import asyncio
import gc
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from trading.simexchange.candles import MINUTE, CandleSeries
from trading.simexchange.config import SimConfig
from trading.simexchange.ratelimit import RateLimiter, RateLimitError
from trading.simexchange.rest import form_pairs
from trading.simexchange.server import SimExchange, settle_heap


def test_a_listing_opens_at_its_open_time_without_a_tick_or_an_order():
    async def scenario() -> tuple[bool, bool, int]:
        # A tick a minute: only the listing's own timer can open it within the test.
        sim = SimExchange(SimConfig(tick_seconds=60))
        sym = sim.add_listing("OPENSUSDT", opens_at=sim.now() + 50, price=Decimal("0.5"))
        await asyncio.sleep(0.01)
        before = sym.active
        await asyncio.sleep(0.2)
        return before, sym.active, len(sym.book.prices["SELL"])

    before, after, asks = asyncio.run(scenario())
    assert (before, after) == (False, True)
    assert asks == SimConfig().liquidity_levels  # the opening book is up before any order asks


def test_a_walk_within_a_grid_line_moves_no_quote_and_a_crossing_moves_one_level_a_side():
    sim = SimExchange(SimConfig())
    sym = sim.add_listing("LADDERUSDT", opens_at=0, price=Decimal("0.5"))
    first = sym.liquidity_targets(30)
    gap = Decimal("0.00002")  # 0.5 * 0.00005 on a 0.00001 step
    assert sorted(p for s, p in first if s == "SELL")[:2] == [Decimal("0.50002"), Decimal("0.50004")]
    sym.fair = 0.500004  # still between the same grid lines
    assert sym.liquidity_targets(30) is first
    sym.fair = 0.500012  # one line up
    moved = sym.liquidity_targets(30)
    assert set(moved) - set(first) == {("BUY", Decimal("0.50000")), ("SELL", Decimal("0.50002") + 30 * gap)}
    assert set(first) - set(moved) == {("BUY", Decimal("0.49998") - 29 * gap), ("SELL", Decimal("0.50002"))}
    assert all(first[key] == moved[key] for key in set(first) & set(moved))  # sizes kept per price


def test_settle_heap_hands_garbage_collection_to_the_tick_loop():
    async def scenario(sim: SimExchange) -> list[int]:
        collected: list[int] = []
        real = gc.collect

        def counting(generation: int = 2) -> int:
            collected.append(generation)
            return real(generation)

        gc.collect = counting  # type: ignore[assignment]
        try:
            task = asyncio.create_task(sim._tick_loop())
            await asyncio.sleep(0.1)
            task.cancel()
        finally:
            gc.collect = real
        return collected

    sim = SimExchange(SimConfig(tick_seconds=0.01, always_active=("BTCUSDT",)))
    try:
        settle_heap(sim)
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        collected = asyncio.run(scenario(sim))
    finally:
        gc.unfreeze()
        gc.enable()
    assert collected
    assert set(collected) <= {1, 2}


def test_the_rate_limit_window_still_refuses_and_frees_weight():
    limiter = RateLimiter(budget=3, window=10.0)
    for second in (0.0, 1.0, 2.0):
        limiter.charge("ip:1", "POST order", 1, second)
    with pytest.raises(RateLimitError):
        limiter.charge("ip:1", "POST order", 1, 3.0)
    limiter.charge("ip:1", "POST order", 1, 10.5)  # the weight spent at 0.0 has left the window
    with pytest.raises(RateLimitError):
        limiter.charge("ip:1", "POST order", 1, 10.6)
    limiter.charge("ip:1", "POST order", 2, 12.5)  # 1.0 and 2.0 left: 1 + 2 of 3


@pytest.mark.parametrize(
    "raw",
    ["", "a=1&b=&c", "&&a=1&", "a==b", "symbol=X&timestamp=1&signature=ab", "a=%20b+c&d=%2B", "=v&k"],
)
def test_a_query_is_split_as_parse_qsl_splits_it(raw):
    assert form_pairs(raw) == parse_qsl(raw, keep_blank_values=True)


def test_a_trade_lands_in_its_own_candle_also_out_of_order():
    series = CandleSeries(
        started=0,
        start_price=Decimal(1),
        rounder=lambda d: d,
        rng_seed="s",
        volume_scale=Decimal(1),
        backfill=False,
    )
    series.on_trade(5 * MINUTE + 1, Decimal(2), Decimal(1))
    series.on_trade(6 * MINUTE + 1, Decimal(3), Decimal(1))
    series.on_trade(5 * MINUTE + 2, Decimal(4), Decimal(1))  # late: the earlier minute's candle
    minutes = series.live["Min1"]
    assert (minutes[5 * MINUTE].high, minutes[5 * MINUTE].volume) == (Decimal(4), Decimal(2))
    assert (minutes[6 * MINUTE].high, minutes[6 * MINUTE].volume) == (Decimal(3), Decimal(1))
    assert series.current("Min1", 6 * MINUTE + 9, Decimal(0)) is minutes[6 * MINUTE]
