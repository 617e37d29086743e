"""Candles built from trades, with a plausible backfilled history for charts."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

MINUTE = 60_000
DAY = 1440 * MINUTE
WEEK = 7 * DAY
# 1970-01-05 was the first Monday after the epoch; weekly candles start on Mondays.
FIRST_MONDAY = 4 * DAY
MONTH = -1  # marker: calendar months have no fixed length

WS_INTERVALS: dict[str, int] = {
    "Min1": MINUTE,
    "Min5": 5 * MINUTE,
    "Min15": 15 * MINUTE,
    "Min30": 30 * MINUTE,
    "Min60": 60 * MINUTE,
    "Hour4": 240 * MINUTE,
    "Hour8": 480 * MINUTE,
    "Day1": DAY,
    "Week1": WEEK,
    "Month1": MONTH,
}
REST_INTERVALS: dict[str, str] = {
    "1m": "Min1",
    "5m": "Min5",
    "15m": "Min15",
    "30m": "Min30",
    "60m": "Min60",
    "4h": "Hour4",
    "1d": "Day1",
    "1W": "Week1",
    "1M": "Month1",
}
BACKFILL_SPAN = 3 * 365 * DAY
BACKFILL_MAX = 1000
SIGMA_PER_MINUTE = 0.0008


def bucket(time_ms: int, interval: str) -> tuple[int, int]:
    """(openTime, closeTime) in ms; closeTime = openTime + interval, as MEXC reports it."""
    length = WS_INTERVALS[interval]
    if length == MONTH:
        moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
        first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        following = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp() * 1000), int(following.timestamp() * 1000)
    if length == WEEK:
        start = (time_ms - FIRST_MONDAY) // WEEK * WEEK + FIRST_MONDAY
        return start, start + WEEK
    start = time_ms // length * length
    return start, start + length


@dataclass
class Candle:
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)

    def add(self, price: Decimal, qty: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += price * qty


@dataclass
class CandleSeries:
    """Per-interval candles: a lazily generated history before ``started``, then candles from trades."""

    started: int
    start_price: Decimal
    rounder: Callable[[Decimal], Decimal]
    rng_seed: str
    volume_scale: Decimal
    backfill: bool = True
    live: dict[str, dict[int, Candle]] = field(default_factory=dict)
    history: dict[str, list[Candle]] = field(default_factory=dict)
    # Each interval's newest live candle.
    _latest: dict[str, Candle] = field(default_factory=dict)

    def on_trade(self, time_ms: int, price: Decimal, qty: Decimal) -> None:
        for interval in WS_INTERVALS:
            self.current(interval, time_ms, price).add(price, qty)

    def current(self, interval: str, time_ms: int, fallback: Decimal) -> Candle:
        """The candle containing ``time_ms``, opened at the last close when no trade has hit it yet."""
        # Nearly every trade falls in the interval's latest candle: found without working out the
        # bucket (ten intervals per trade, the monthly one through datetime).
        latest = self._latest.get(interval)
        if latest is not None and latest.open_time <= time_ms < latest.close_time:
            return latest
        open_time, close_time = bucket(time_ms, interval)
        live = self.live.setdefault(interval, {})
        candle = live.get(open_time)
        if candle is None:
            previous = next(reversed(live.values()), None) if live else None
            price = previous.close if previous else fallback
            candle = live[open_time] = Candle(open_time, close_time, price, price, price, price)
        if latest is None or candle.open_time >= latest.open_time:
            self._latest[interval] = candle
        return candle

    def candles(self, interval: str, start: int | None, end: int | None, limit: int) -> list[Candle]:
        rows = [*self._history(interval), *self.live.get(interval, {}).values()]
        if start is not None:
            rows = [c for c in rows if c.open_time >= start]
        if end is not None:
            rows = [c for c in rows if c.open_time <= end]
        return rows[:limit] if start is not None else rows[-limit:]

    def _history(self, interval: str) -> list[Candle]:
        if not self.backfill:
            return []
        if interval not in self.history:
            self.history[interval] = self._generate(interval)
        return self.history[interval]

    def _generate(self, interval: str) -> list[Candle]:
        # Walk backwards from the price at start-up so the history joins the live candles seamlessly.
        rng = random.Random(f"{self.rng_seed}:{interval}")
        first_live, _ = bucket(self.started, interval)
        price, cursor = self.start_price, first_live - 1
        rows: list[Candle] = []
        while len(rows) < BACKFILL_MAX and self.started - cursor < BACKFILL_SPAN:
            open_time, close_time = bucket(cursor, interval)
            sigma = SIGMA_PER_MINUTE * math.sqrt((close_time - open_time) / MINUTE)
            candle = self._fake_candle(rng, open_time, close_time, price, sigma)
            rows.append(candle)
            price, cursor = candle.open, open_time - 1
        rows.reverse()
        return rows

    def _fake_candle(self, rng: random.Random, start: int, end: int, close: Decimal, sigma: float) -> Candle:
        open_ = self.rounder(close * Decimal(math.exp(-rng.gauss(0, sigma))))
        wick = Decimal(1 + abs(rng.gauss(0, sigma / 2)))
        high = self.rounder(max(open_, close) * wick)
        low = self.rounder(min(open_, close) / wick)
        volume = self.volume_scale * Decimal(rng.uniform(0.3, 3.0) * (end - start) / MINUTE)
        volume = volume.quantize(Decimal("0.0001"))
        quote = (volume * (open_ + close) / 2).quantize(Decimal("0.01"))
        return Candle(start, end, open_, high, low, close, volume, quote)
