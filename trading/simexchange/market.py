"""Symbols from the real capture, a seeded random walk per symbol, simulated liquidity and statistics."""

from __future__ import annotations

import copy
import functools
import gzip
import json
import math
import random
import zlib
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from importlib import resources
from typing import Any

from trading.simexchange.candles import MINUTE, CandleSeries
from trading.simexchange.matching import BUY, SELL, Fill, OrderBook

DAY = 1440 * MINUTE
EXCHANGE_INFO = "exchange_info_2025-04-16.json.gz"
MARKET_SNAPSHOT = "market_2025-04-16.json"
PRICE_BAND = {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "askMultiplierDown": "0.2"}
# Approximate levels of 2025-04-16 for majors the market capture lacks, so the demo looks like that day.
REFERENCE_PRICES = {
    "XRPUSDT": "2.0812", "MXUSDT": "2.4361", "DOGEUSDT": "0.15604", "ADAUSDT": "0.6127",
    "TRXUSDT": "0.2468", "LTCUSDT": "75.61", "BNBUSDT": "582.17", "SUIUSDT": "2.0935",
    "TONUSDT": "2.901", "PEPEUSDT": "0.00000719", "BTCUSDC": "84770.12", "ETHUSDC": "1578.60",
    "ETHBTC": "0.018621", "KASUSDT": "0.077412", "BTCEUR": "74560.11", "SOLUSDC": "127.41",
}  # fmt: skip
# Rough value of one unit of the quote asset in USDT, to size resting liquidity sensibly.
QUOTE_VALUE = {"BTC": 84764.0, "ETH": 1578.0, "EUR": 1.13}
SIGMA_PER_MINUTE = 0.0008
# Some symbols quote 25 decimal places; rounding to them needs more digits than the default 28.
WIDE = Context(prec=60)
MEAN_REVERSION = 0.002


@functools.cache
def load_exchange_info() -> dict[str, Any]:
    blob = resources.files("trading.simexchange").joinpath("data", EXCHANGE_INFO).read_bytes()
    info: dict[str, Any] = json.loads(gzip.decompress(blob))
    return info


@functools.cache
def load_market_snapshot() -> dict[str, Any]:
    text = resources.files("trading.simexchange").joinpath("data", MARKET_SNAPSHOT).read_text()
    snapshot: dict[str, Any] = json.loads(text)
    return snapshot


def decimals_step(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


@dataclass
class Trade:
    trade_id: str
    price: Decimal
    qty: Decimal
    time: int
    taker_side: str

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass
class DayStats:
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    quote_volume: Decimal


# Level sizes remembered per symbol (the walk revisits the same few hundred prices).
LEVEL_SIZES_KEPT = 4096


class SymbolState:
    """Everything the simulator knows about one symbol; the walk only runs once it is ``active``."""

    def __init__(self, spec: dict[str, Any], *, seed: int, anchor: Decimal | None) -> None:
        self.spec = spec
        self.name: str = spec["symbol"]
        self.price_step = decimals_step(int(spec["quoteAssetPrecision"]))
        self.qty_step = decimals_step(int(spec["baseAssetPrecision"]))
        self.seed = f"{seed}:{self.name}"
        self.rng = random.Random(self.seed)
        self.anchor = anchor if anchor is not None else self._plausible_price()
        self.fair = float(self.anchor)
        self.last_price = self.anchor
        self.book = OrderBook()
        # _level_qty by price: a pure function of the price, asked for every level on every tick.
        self._level_sizes: dict[str, Decimal] = {}
        # The last ladder of simulated quotes and what it was worked out from (liquidity_targets).
        self._ladder: (
            tuple[tuple[Decimal, Decimal, Decimal, int], dict[tuple[str, Decimal], Decimal]] | None
        ) = None
        self.trades: deque[Trade] = deque(maxlen=1000)
        self.pending_deals: list[Trade] = []
        self.candles: CandleSeries | None = None
        self.day = self._plausible_day()
        self.active = False
        self.api_market_disabled = False
        self.opens_at: int | None = None
        self.trade_seq = 0

    # --- identity and rules -------------------------------------------------------------------
    @property
    def base(self) -> str:
        return str(self.spec["baseAsset"])

    @property
    def quote(self) -> str:
        return str(self.spec["quoteAsset"])

    @property
    def api_tradable(self) -> bool:
        return self.spec["status"] == "1" and bool(self.spec["isSpotTradingAllowed"])

    @property
    def quote_value(self) -> float:
        return QUOTE_VALUE.get(self.quote, 1.0)

    def round_price(self, value: Decimal, rounding: str = ROUND_FLOOR) -> Decimal:
        return value.quantize(self.price_step, rounding=rounding, context=WIDE)

    def round_qty(self, value: Decimal) -> Decimal:
        return value.quantize(self.qty_step, rounding=ROUND_FLOOR, context=WIDE)

    # --- plausible levels for symbols without a captured price -----------------------------------
    def _plausible_price(self) -> Decimal:
        # Exchanges pick price precision so that one tick is a few hundred-thousandths of the price.
        places = int(self.spec["quoteAssetPrecision"])
        raw = 10 ** (4.5 - places) * math.exp(self.rng.uniform(-1.0, 1.0))
        return self.round_price(Decimal(repr(raw)), ROUND_CEILING)

    def _plausible_day(self) -> DayStats:
        last = self.last_price
        open_ = self.round_price(last / Decimal(repr(1 + self.rng.gauss(0, 0.04))))
        high = self.round_price(max(open_, last) * Decimal(repr(1 + self.rng.uniform(0, 0.03))))
        low = self.round_price(min(open_, last) / Decimal(repr(1 + self.rng.uniform(0, 0.03))))
        quote_volume = Decimal(int(self.rng.lognormvariate(11, 1.5) / self.quote_value * 100)) / 100
        volume = self.round_qty(quote_volume / last) if last > 0 else Decimal(0)
        return DayStats(open_, high, low, volume, quote_volume)

    def use_snapshot_ticker(self, ticker: dict[str, Any]) -> None:
        self.day = DayStats(
            open=self.round_price(Decimal(str(ticker["lastPrice"])) - Decimal(str(ticker["priceChange"]))),
            high=Decimal(str(ticker["highPrice"])),
            low=Decimal(str(ticker["lowPrice"])),
            volume=Decimal(str(ticker["volume"])),
            quote_volume=(Decimal(str(ticker["volume"])) * self.last_price).quantize(Decimal("0.01")),
        )

    # --- activation, walk and simulated flow --------------------------------------------------
    def activate(self, now: int, *, backfill: bool = True) -> None:
        self.active = True
        volume_scale = max(self.day.quote_volume, Decimal(1)) / 1440 / self.last_price
        self.candles = CandleSeries(
            started=now,
            start_price=self.last_price,
            rounder=self.round_price,
            rng_seed=self.seed,
            volume_scale=volume_scale,
            backfill=backfill,
        )

    def step_walk(self, tick_seconds: float) -> None:
        sigma = SIGMA_PER_MINUTE * math.sqrt(tick_seconds / 60)
        # A gentle pull back to the anchor keeps prices around realistic levels over long runs.
        pull = MEAN_REVERSION * math.log(self.fair / float(self.anchor))
        self.fair *= math.exp(self.rng.gauss(0, sigma) - pull)

    def move_to(self, price: Decimal) -> None:
        self.anchor = price
        self.fair = float(price)

    def liquidity_targets(self, levels: int) -> dict[tuple[str, Decimal], Decimal]:
        """Resting simulated quotes around the walk: (side, price) -> quantity.

        Level i sits at the walk -/+ (i + 1/2) gaps, rounded outwards onto a grid of `gap` (a multiple
        of the price step; where the gap is one step this is the step grid). A walk that moves within
        a grid line moves no quote, and one that crosses a line moves one level at each end. (Rounded
        to the step grid instead, every one of the 60 levels of a symbol whose gap is wider than its
        step moved on each tick: a tick of 31 such symbols, new listings among them, took about 25 ms
        of the loop, which orders arriving meanwhile waited for.) The same ladder is returned again
        while it has not moved."""
        fair = Decimal(repr(self.fair))
        gap = max(self.price_step, self.round_price(fair * Decimal("0.00005")))
        half = gap / 2
        best_bid = WIDE.multiply(WIDE.divide(fair - half, gap).to_integral_value(ROUND_FLOOR), gap)
        best_ask = WIDE.multiply(WIDE.divide(fair + half, gap).to_integral_value(ROUND_CEILING), gap)
        key = (best_bid, best_ask, gap, levels)
        if self._ladder is not None and self._ladder[0] == key:
            return self._ladder[1]
        targets: dict[tuple[str, Decimal], Decimal] = {}
        for index in range(levels):
            offset = WIDE.multiply(gap, Decimal(index))
            bid, ask = WIDE.subtract(best_bid, offset), WIDE.add(best_ask, offset)
            if bid > 0:
                targets[(BUY, bid)] = self._level_qty(bid)
            targets[(SELL, ask)] = self._level_qty(ask)
        self._ladder = (key, targets)
        return targets

    def _level_qty(self, price: Decimal) -> Decimal:
        # Seeded by the price so a level that survives a move keeps its size and yields no depth update.
        # Remembered: seeding a generator per level was half of every tick (`bench sniper` saw ticks of
        # 20-40 ms with 26 symbols active, orders waiting behind them).
        text = str(price)  # the seed's text: 100 and 100.00 seed differently, so they are kept apart
        known = self._level_sizes.get(text)
        if known is not None:
            return known
        if len(self._level_sizes) >= LEVEL_SIZES_KEPT:
            self._level_sizes.clear()
        rng = random.Random(zlib.crc32(f"{self.seed}:{text}".encode()))
        notional = rng.lognormvariate(7.0, 1.0) / self.quote_value
        size = max(self.round_qty(Decimal(repr(notional)) / price), self.qty_step)
        self._level_sizes[text] = size
        return size

    def taker_flow(self, tick_seconds: float, per_second: float) -> tuple[str, Decimal] | None:
        if self.rng.random() > min(1.0, per_second * tick_seconds):
            return None
        side = BUY if self.rng.random() < 0.5 else SELL
        notional = Decimal(repr(self.rng.lognormvariate(5.0, 1.2) / self.quote_value))
        qty = self.round_qty(notional / self.last_price)
        return (side, qty) if qty > 0 else None

    # --- trades and statistics -----------------------------------------------------------------
    def record(self, fill: Fill) -> Trade:
        self.trade_seq += 1
        trade = Trade(
            trade_id=f"{abs(zlib.crc32(self.name.encode()))}{fill.time}X{self.trade_seq}",
            price=fill.price,
            qty=fill.qty,
            time=fill.time,
            taker_side=fill.taker.side,
        )
        self.trades.append(trade)
        self.pending_deals.append(trade)
        self.last_price = fill.price
        self.day.high = max(self.day.high, fill.price)
        self.day.low = min(self.day.low, fill.price)
        self.day.volume += fill.qty
        self.day.quote_volume += trade.quote
        if self.candles is not None:
            self.candles.on_trade(fill.time, fill.price, fill.qty)
        return trade

    def best_bid_ask(self) -> tuple[tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None]:
        bids, asks = self.book.depth(BUY, 1), self.book.depth(SELL, 1)
        return (bids[0] if bids else None), (asks[0] if asks else None)

    def avg_price(self, now: int) -> Decimal:
        recent = [t for t in self.trades if t.time >= now - 5 * MINUTE]
        quantity = sum((t.qty for t in recent), Decimal(0))
        if not quantity:
            return self.last_price
        value = sum((t.quote for t in recent), Decimal(0))
        return (value / quantity).quantize(decimals_step(8))


class Market:
    """The registry of symbols; activates symbols lazily so only watched ones cost CPU."""

    def __init__(self, *, seed: int, always_active: tuple[str, ...], price_band: bool = True) -> None:
        info = load_exchange_info()
        snapshot = load_market_snapshot()
        self.seed = seed
        self.timezone = info.get("timezone", "CST")
        self.symbols: dict[str, SymbolState] = {}
        self.listings: list[SymbolState] = []
        # Only these tick; the other symbols answer from their static day statistics.
        self.active_symbols: dict[str, SymbolState] = {}
        for raw in info["symbols"]:
            self._add(raw, snapshot, price_band)
        self.always_active = always_active

    def _add(self, raw: dict[str, Any], snapshot: dict[str, Any], price_band: bool) -> SymbolState:
        spec = copy.deepcopy(raw)
        if price_band and not spec.get("filters"):
            spec["filters"] = [dict(PRICE_BAND)]
        name = spec["symbol"]
        ticker = snapshot.get("tickers", {}).get(name)
        known = ticker["lastPrice"] if ticker else REFERENCE_PRICES.get(name)
        state = SymbolState(spec, seed=self.seed, anchor=Decimal(str(known)) if known else None)
        if ticker:
            state.use_snapshot_ticker(ticker)
        self.symbols[name] = state
        return state

    def get(self, name: str) -> SymbolState | None:
        return self.symbols.get(name)

    def active(self) -> list[SymbolState]:
        return list(self.active_symbols.values())

    def activate(self, state: SymbolState, now: int, *, backfill: bool) -> None:
        state.activate(now, backfill=backfill)
        self.active_symbols[state.name] = state

    def add_listing(self, spec: dict[str, Any], *, opens_at: int, price: Decimal) -> SymbolState:
        state = self._add(spec, {}, price_band=True)
        state.move_to(price)
        state.last_price = price
        state.day = DayStats(price, price, price, Decimal(0), Decimal(0))
        state.opens_at = opens_at
        self.listings.append(state)
        return state

    def due_listings(self, now: int) -> list[SymbolState]:
        return [s for s in self.listings if s.opens_at is not None and s.opens_at <= now]
