"""The simulated exchange answers orders between its own housekeeping: a tick of every active symbol
runs one symbol at a time, and the simulated quotes' sizes are worked out once per price.
(`bench sniper` measures the exchange's acceptance time; a tick of 26 symbols held its loop for
tens of ms, and orders arriving meanwhile were accepted that much later.)"""

from __future__ import annotations

import asyncio
import random
import re
from decimal import Decimal

from tests.simexchange.helpers import Caller
from trading.simexchange import market as market_module
from trading.simexchange.config import SimConfig
from trading.simexchange.server import SimExchange


def test_a_tick_answers_what_arrived_between_two_symbols():
    async def scenario() -> list[str]:
        sim = SimExchange(SimConfig(tick_seconds=0.001))
        now = sim.now()
        for name in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"):
            sim.engine.activate(sim.market.get(name), now)
        events: list[str] = []
        four = asyncio.Event()
        step = sim.engine.step

        def traced(sym, at, tick):
            events.append(f"step {sym.name}")
            if len(events) == 1:  # a request arrives while the first symbol is being stepped
                asyncio.get_running_loop().call_soon(events.append, "request")
            if sum(e.startswith("step") for e in events) >= 4:
                four.set()
            step(sym, at, tick)

        sim.engine.step = traced  # type: ignore[method-assign]
        task = asyncio.create_task(sim._tick_loop())
        await asyncio.wait_for(four.wait(), 30)
        task.cancel()
        return events[:5]

    events = asyncio.run(scenario())
    # Answered before the tick's last symbol, not after the whole tick.
    assert "request" in events[:4], events


def test_a_level_size_is_worked_out_once_per_price(monkeypatch):
    sim = SimExchange(SimConfig())
    sym = sim.market.get("SOLUSDT")
    first = sym.liquidity_targets(30)
    seeded: list[object] = []
    real = random.Random

    def counting(*args):
        seeded.append(args)
        return real(*args)

    monkeypatch.setattr(market_module.random, "Random", counting)
    again = sym.liquidity_targets(30)
    assert again == first
    assert seeded == []  # the same prices: no generator seeded again


def test_the_remembered_level_sizes_stay_bounded(monkeypatch):
    monkeypatch.setattr(market_module, "LEVEL_SIZES_KEPT", 10)
    sym = SimExchange(SimConfig()).market.get("SOLUSDT")
    prices = [Decimal("100.00") + Decimal(n) / 100 for n in range(25)]
    sizes = [sym._level_qty(price) for price in prices]
    assert len(sym._level_sizes) <= 10
    # A size worked out again after being forgotten is the same size.
    assert sym._level_qty(prices[0]) == sizes[0]
    assert sym._level_qty(Decimal("100")) == sym._level_qty(Decimal("100"))


def test_a_listing_s_opening_sizes_are_ready_before_its_open():
    sim = SimExchange(SimConfig())
    sym = sim.add_listing("NEWUSDT", opens_at=sim.now() + 60_000, price=Decimal("0.5"))
    targets = sym.liquidity_targets(sim.config.liquidity_levels)
    assert set(sym._level_sizes) == {str(price) for _side, price in targets}


def test_trade_ids_stay_32_hex_digits_and_unique(sim_exchange):
    api = Caller(sim_exchange)
    for n in range(3):
        placed = api.order(
            symbol="SOLUSDT", side="BUY", type="MARKET", quoteOrderQty="50", newClientOrderId=f"t{n}"
        )
        assert placed.status_code == 200, placed.text
    trades = api.signed("GET", "myTrades", {"symbol": "SOLUSDT"}).json()
    ids = [t["id"] for t in trades]
    assert len(ids) >= 3
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(i)) for i in ids), ids


def test_manage_py_simexchange_serves_on_uvloop(monkeypatch):
    from django.core.management import call_command

    from trading.management.commands import simexchange as command

    ran: list[str] = []

    def run(coro):
        ran.append(coro.__qualname__)
        coro.close()  # not served: only which loop it was handed to is checked

    monkeypatch.setattr(command.uvloop, "run", run)
    call_command("simexchange", port=0)
    assert ran == ["Command._serve"]
