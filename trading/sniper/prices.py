"""Prices the monitor and the sniper read: the market feed's ticker snapshot when it has the symbol,
else one REST round for all the missing symbols. One view per monitor tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol, TypeVar

from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.types import Kline, KlineQuery, OrderBook, Ticker
from trading.exchanges import public_client, run
from trading.feed.store import tickers_cached

log = logging.getLogger(__name__)
KLINES_TTL_S = 5.0
_klines: dict[tuple[str, int], tuple[float, list[Kline]]] = {}


@dataclass(frozen=True)
class Quote:
    last: Decimal
    bid: Decimal | None
    ask: Decimal | None

    @property
    def price(self) -> Decimal:
        """The mid of the best bid and ask when both are known (a quiet book's last trade can be
        stale), else the last trade."""
        return (self.bid + self.ask) / 2 if self.bid and self.ask else self.last

    @property
    def sell_price(self) -> Decimal:
        """What a market sell gets now, about: the best bid, else the last trade."""
        return self.bid or self.last


def _dec(value: object) -> Decimal | None:
    try:
        found = Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return found if found is not None and found.is_finite() and found > 0 else None


class MarketView:
    def __init__(self, *, use_feed: bool = True) -> None:
        self._feed = tickers_cached() if use_feed else {}
        self._quotes: dict[str, Quote] = {}

    def load(self, symbols: Iterable[str]) -> MarketView:
        missing = []
        for symbol in sorted(set(symbols)):
            entry = self._feed.get(symbol)
            last = _dec(entry.get("price")) if isinstance(entry, dict) else None
            if last is not None and isinstance(entry, dict):
                self._quotes[symbol] = Quote(last, _dec(entry.get("bid")), _dec(entry.get("ask")))
            else:
                missing.append(symbol)
        if missing:
            self._quotes.update(quotes_fetch(missing))
        return self

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)


class HasSymbol(Protocol):
    symbol: str


Row = TypeVar("Row", bound=HasSymbol)


def priced(rows: Sequence[Row], view: MarketView | None = None) -> Iterator[tuple[Row, Quote]]:
    """Each row (an alert, a position) with the quote of its symbol, all symbols read in one load of
    `view` (a new MarketView when None, none at all when there are no rows); unpriced rows are skipped."""
    if not rows:
        return
    view = (view or MarketView()).load(row.symbol for row in rows)
    for row in rows:
        if (quote := view.quote(row.symbol)) is not None:
            yield row, quote


def quotes_fetch(symbols: list[str]) -> dict[str, Quote]:
    async def fetch(exchange: Exchange) -> list[Ticker | BaseException]:
        return await asyncio.gather(*(exchange.ticker(s) for s in symbols), return_exceptions=True)

    try:
        found = run(public_client, fetch)
    except xerr.ExchangeError as exc:
        log.warning("prices not fetched: %s", exc)
        return {}
    return {
        t.symbol: Quote(t.last_price, t.bid_price, t.ask_price)
        for t in found
        if isinstance(t, Ticker) and t.last_price > 0
    }


def book_fetch(symbol: str) -> OrderBook | None:
    async def fetch(exchange: Exchange) -> OrderBook:
        return await exchange.depth(symbol, limit=5)

    try:
        return run(public_client, fetch)
    except xerr.ExchangeError as exc:
        log.info("book of %s not fetched: %s", symbol, exc)
        return None


def klines_recent(symbol: str, minutes: int) -> list[Kline]:
    """The last `minutes` + 1 one-minute candles (the last one forming), cached a few seconds."""
    key = (symbol, minutes)
    hit = _klines.get(key)
    if hit is not None and time.monotonic() - hit[0] < KLINES_TTL_S:
        return hit[1]

    async def fetch(exchange: Exchange) -> list[Kline]:
        return list(await exchange.klines(KlineQuery(symbol, "1m", limit=minutes + 1)))

    try:
        found = run(public_client, fetch)
    except xerr.ExchangeError as exc:
        log.info("klines of %s not fetched: %s", symbol, exc)
        return []
    _klines[key] = (time.monotonic(), found)
    return found
