"""The feed's current market state, in memory, and the payloads built from it.

Everything here is synchronous and does no I/O: a decoded event goes in, a few dict writes happen,
and the group it touches is marked dirty. Payloads are built from this state once per group per
publish, never per client. Numbers travel as decimal strings (never floats) so the browser shows the
exchange's own digits.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from trading.exchange.events import BookTickerEvent, TickerEvent
from trading.exchange.types import BookLevel, Kline, OrderBook, Ticker, Trade

# The Candle table and the browser speak MEXC's REST interval names; the WS stream says "1h".
MODEL_INTERVAL = {"1h": "60m"}
INTERVAL_MS = {
    "1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "60m": 3_600_000, "4h": 14_400_000, "1d": 86_400_000,
}  # fmt: skip
BOOK_LEVELS = 20
SNAPSHOT_LEVELS = 10
RECENT_TRADES = 50
# A ticker row's marker for a symbol the exchange no longer lists (delisted, or a restarted exchange
# without it): its figures are cleared and `STATE: UNAVAILABLE` says why, in the cache snapshot and
# in the live push, so a frozen last price is never shown as live.
STATE = "state"
UNAVAILABLE = "unavailable"
_FIGURES = ("price", "change", "high", "low", "volume", "quote_volume", "bid", "ask")
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


def num(value: Decimal | None) -> str | None:
    """Plain positional notation: str(Decimal) would write 7.19E-6 for a PEPE price."""
    return None if value is None else format(value, "f")


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def model_interval(interval: str) -> str:
    return MODEL_INTERVAL.get(interval, interval)


def _pct(fraction: Decimal) -> str:
    return format((fraction * _HUNDRED).quantize(_CENT), "f")


def _day_stats(row: dict[str, Any], figures: TickerEvent | Ticker, *, change: str | None) -> bool:
    """Writes a symbol's rolling 24 h figures (from the stream or the REST ticker) into its ticker row;
    True when the price or the change moved (the only news browsers are told)."""
    price = num(figures.last_price)
    moved = row.get("price") != price or row.get("change") != change or STATE in row
    row.pop(STATE, None)  # listed again (a restarted exchange that lists it after all)
    row["price"], row["change"] = price, change
    row["high"] = num(figures.high_price)
    row["low"] = num(figures.low_price)
    row["volume"] = num(figures.volume)
    row["quote_volume"] = num(figures.quote_volume)
    return moved


def _levels(levels: tuple[BookLevel, ...]) -> list[list[str | None]]:
    return [[num(lv.price), num(lv.quantity)] for lv in levels]


def candle_payload(kline: Kline, *, closed: bool = False) -> dict[str, Any]:
    return {
        "type": "candle",
        "symbol": kline.symbol,
        "interval": model_interval(kline.interval),
        "t": kline.open_time_ms,
        "o": num(kline.open),
        "h": num(kline.high),
        "l": num(kline.low),
        "c": num(kline.close),
        "v": num(kline.volume),
        "qv": num(kline.quote_volume),
        "closed": closed,
    }


@dataclass
class RollUp:
    """A longer interval's forming candle kept current from the 1m stream, for intervals the feed does not
    subscribe to. Display only: when its window ends the feed re-reads the closed candle over REST."""

    candle: Kline
    done_volume: Decimal  # the window's finished minutes
    done_quote: Decimal
    minute_ms: int = -1  # the 1m window counted last, and its latest (cumulative) figures
    minute_volume: Decimal = Decimal(0)
    minute_quote: Decimal = Decimal(0)

    def add(self, k: Kline) -> Kline:
        if k.open_time_ms != self.minute_ms:
            self.done_volume += self.minute_volume
            self.done_quote += self.minute_quote
            self.minute_ms = k.open_time_ms
        self.minute_volume, self.minute_quote = k.volume, k.quote_volume
        c = self.candle
        self.candle = replace(
            c,
            high=max(c.high, k.high),
            low=min(c.low, k.low),
            close=k.close,
            volume=self.done_volume + k.volume,
            quote_volume=self.done_quote + k.quote_volume,
        )
        return self.candle


@dataclass
class SymbolState:
    """What a watched symbol's page shows: top of book, the ladder, recent trades, forming candles."""

    symbol: str
    book: OrderBook | None = None
    book_dirty: bool = False
    # Sorting the whole local book costs more than applying a push, so the ladder is cut from the
    # maintainer only when a publish needs it; None while the maintainer is not in sync.
    book_view: Callable[[], OrderBook | None] | None = None
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=RECENT_TRADES))
    fresh_trades: list[Trade] = field(default_factory=list)
    forming: dict[str, Kline] = field(default_factory=dict)
    dirty_candles: set[str] = field(default_factory=set)
    rollups: dict[str, RollUp] = field(default_factory=dict)
    ticker_dirty: bool = False

    def top(self) -> dict[str, str | None]:
        bid = self.book.best_bid if self.book else None
        ask = self.book.best_ask if self.book else None
        return {
            "bid": num(bid.price) if bid else None,
            "bid_qty": num(bid.quantity) if bid else None,
            "ask": num(ask.price) if ask else None,
            "ask_qty": num(ask.quantity) if ask else None,
        }

    def delist(self) -> None:
        """The exchange stopped listing the symbol: its ladder and trades go with its price (the feed
        gives it a fresh, unsynced book), and browsers hear an empty book at the next publish."""
        self.book, self.book_view = None, None
        self.trades.clear()
        self.fresh_trades = []
        self.book_dirty = True


class MarketState:
    """Tickers for every symbol plus the detail of the watched ones."""

    def __init__(self) -> None:
        self.tickers: dict[str, dict[str, str | None]] = {}
        self.changed_tickers: set[str] = set()
        self.symbols: dict[str, SymbolState] = {}
        self.version = 0  # bumps on every ticker change, so the cache snapshot is written only when needed

    # ---- ingest ------------------------------------------------------------------------------------

    def on_ticker(self, event: TickerEvent) -> None:
        row = self.tickers.get(event.symbol)
        if row is None:
            row = self.tickers[event.symbol] = {"bid": None, "ask": None}
        # miniTickers repeats every symbol every few seconds; browsers hear only of a moved price.
        if _day_stats(row, event, change=_pct(event.change_fraction)):
            self._ticker_changed(event.symbol)
        else:
            self.version += 1

    def on_rest_ticker(self, ticker: Ticker) -> None:
        row = self.tickers.setdefault(ticker.symbol, {})
        change = _pct(ticker.change_fraction) if ticker.change_fraction is not None else None
        moved = _day_stats(row, ticker, change=change)
        # A watched symbol's own order book is fresher than the 24 h endpoint's bid and ask.
        if ticker.symbol not in self.symbols or self.symbols[ticker.symbol].book is None:
            row["bid"], row["ask"] = num(ticker.bid_price), num(ticker.ask_price)
        if moved:
            self._ticker_changed(ticker.symbol)
        else:
            self.version += 1

    def on_listing(self, symbols: set[str]) -> list[str]:
        """`symbols` is everything the exchange lists now (its full 24 h ticker answer): a symbol with
        a row but not among them has gone: its row turns unavailable, and a watched one loses its book
        and trades, so neither a page nor a paper order goes on using them. Returns the newly gone ones."""
        gone = [s for s, row in self.tickers.items() if s not in symbols and row.get(STATE) != UNAVAILABLE]
        for symbol in gone:
            self.tickers[symbol] = {**dict.fromkeys(_FIGURES), STATE: UNAVAILABLE}
            if symbol in self.symbols:
                self.symbols[symbol].delist()
            self._ticker_changed(symbol)
        return gone

    def on_book_ticker(self, event: BookTickerEvent) -> None:
        row = self.tickers.setdefault(event.symbol, {"price": None})
        row["bid"], row["ask"] = num(event.bid_price), num(event.ask_price)
        self._ticker_changed(event.symbol)

    def _ticker_changed(self, symbol: str) -> None:
        self.changed_tickers.add(symbol)
        self.version += 1
        watched = self.symbols.get(symbol)
        if watched is not None:
            watched.ticker_dirty = True

    def on_book_changed(self, symbol: str) -> None:
        watched = self.symbols.get(symbol)
        if watched is not None:
            watched.book_dirty = True

    def on_book(self, book: OrderBook) -> None:
        """A fresh ladder: kept for the page, and its best bid and ask go into the ticker row."""
        watched = self.symbols.get(book.symbol)
        if watched is None:
            return
        watched.book = book
        watched.book_dirty = True
        row = self.tickers.setdefault(book.symbol, {"price": None})
        bid, ask = book.best_bid, book.best_ask
        new_bid, new_ask = num(bid.price) if bid else None, num(ask.price) if ask else None
        if (row.get("bid"), row.get("ask")) != (new_bid, new_ask):
            row["bid"], row["ask"] = new_bid, new_ask
            self._ticker_changed(book.symbol)

    def on_trades(self, symbol: str, trades: tuple[Trade, ...]) -> None:
        watched = self.symbols.get(symbol)
        if watched is None or not trades:
            return
        watched.trades.extend(trades)
        watched.fresh_trades.extend(trades)

    def on_kline(self, kline: Kline) -> tuple[Kline | None, list[Kline]]:
        """Keeps the forming candle. Returns the streamed candle this kline closed (a new window opened),
        and the rolled-up candles of other intervals whose window the 1m stream has just left."""
        watched = self.symbols.get(kline.symbol)
        if watched is None:
            return None, []
        interval = model_interval(kline.interval)
        previous = watched.forming.get(interval)
        if previous is not None and kline.open_time_ms < previous.open_time_ms:
            return None, []  # a late push for a window already closed
        watched.forming[interval] = kline
        watched.dirty_candles.add(interval)
        ended = self._roll_up(watched, kline) if interval == "1m" else []
        if previous is not None and kline.open_time_ms > previous.open_time_ms:
            return previous, ended
        return None, ended

    def seed_rollup(self, candle: Kline) -> None:
        """Start rolling `candle` (REST's newest, still forming) up from the 1m stream."""
        watched = self.symbols.get(candle.symbol)
        interval = model_interval(candle.interval)
        if watched is None or interval not in INTERVAL_MS or interval in watched.rollups:
            return
        rollup = RollUp(candle=replace(candle, interval=interval), done_volume=candle.volume,
                        done_quote=candle.quote_volume)  # fmt: skip
        minute = watched.forming.get("1m")
        if minute is not None and candle.open_time_ms <= minute.open_time_ms < candle.close_time_ms:
            # REST's figure already holds the current minute so far; the stream will re-add it.
            rollup.done_volume = max(Decimal(0), candle.volume - minute.volume)
            rollup.done_quote = max(Decimal(0), candle.quote_volume - minute.quote_volume)
            rollup.minute_ms = minute.open_time_ms
            rollup.minute_volume, rollup.minute_quote = minute.volume, minute.quote_volume
        watched.rollups[interval] = rollup
        watched.forming[interval] = rollup.candle
        watched.dirty_candles.add(interval)

    def _roll_up(self, watched: SymbolState, minute: Kline) -> list[Kline]:
        ended: list[Kline] = []
        for interval, rollup in watched.rollups.items():
            length = INTERVAL_MS[interval]
            start = rollup.candle.open_time_ms
            if minute.open_time_ms < start:
                continue
            if minute.open_time_ms >= start + length:
                ended.append(rollup.candle)
                opens = start + (minute.open_time_ms - start) // length * length
                fresh = replace(minute, interval=interval, open_time_ms=opens, close_time_ms=opens + length,
                                volume=Decimal(0), quote_volume=Decimal(0))  # fmt: skip
                rollup.candle, rollup.done_volume, rollup.done_quote = fresh, Decimal(0), Decimal(0)
                rollup.minute_ms, rollup.minute_volume, rollup.minute_quote = -1, Decimal(0), Decimal(0)
            watched.forming[interval] = rollup.add(minute)
            watched.dirty_candles.add(interval)
        return ended

    # ---- watched symbols ---------------------------------------------------------------------------

    def watch(self, symbol: str) -> SymbolState:
        state = self.symbols.get(symbol)
        if state is None:
            state = self.symbols[symbol] = SymbolState(symbol)
        return state

    def release(self, symbol: str) -> None:
        self.symbols.pop(symbol, None)

    # ---- payloads (built once per group per publish) -----------------------------------------------

    def take_tickers_payload(self) -> str | None:
        if not self.changed_tickers:
            return None
        changed, self.changed_tickers = self.changed_tickers, set()
        data = {sym: self.tickers[sym] for sym in changed if sym in self.tickers}
        return dumps({"type": "tickers", "data": data})

    def take_symbol_payload(self, symbol: str) -> str | None:
        """One frame for the symbol's group: a single message, or a batch when several parts changed."""
        watched = self.symbols.get(symbol)
        if watched is None:
            return None
        messages: list[dict[str, Any]] = []
        if watched.book_dirty and watched.book_view is not None and (view := watched.book_view()) is not None:
            self.on_book(view)
        if watched.ticker_dirty and symbol in self.tickers:
            messages.append({"type": "ticker", "symbol": symbol, **self.tickers[symbol]})
        if watched.book_dirty and watched.book is not None:
            messages.append(
                {
                    "type": "book",
                    "symbol": symbol,
                    "version": watched.book.last_update_id,
                    "bids": _levels(watched.book.bids),
                    "asks": _levels(watched.book.asks),
                }
            )
        elif watched.book_dirty:  # delisted: the ladder a page shows is emptied, not left frozen
            messages.append(
                {"type": "book", "symbol": symbol, "version": 0, "bids": [], "asks": [], STATE: UNAVAILABLE}
            )
        if watched.fresh_trades:
            trades = [
                {"p": num(t.price), "q": num(t.quantity), "s": t.taker_side.value, "t": t.time_ms}
                for t in watched.fresh_trades
            ]
            messages.append({"type": "trades", "symbol": symbol, "trades": trades})
        messages.extend(candle_payload(watched.forming[iv]) for iv in sorted(watched.dirty_candles))
        watched.ticker_dirty = watched.book_dirty = False
        watched.fresh_trades = []
        watched.dirty_candles = set()
        if not messages:
            return None
        if len(messages) == 1:
            return dumps(messages[0])
        return dumps({"type": "batch", "messages": messages})

    def tickers_snapshot(self) -> dict[str, dict[str, str | None]]:
        return {sym: dict(row) for sym, row in self.tickers.items()}

    def book_snapshot(self, symbol: str) -> dict[str, Any] | None:
        watched = self.symbols.get(symbol)
        if watched is None or watched.book is None:
            return None
        book = watched.book
        return {
            **watched.top(),
            "bids": _levels(book.bids[:SNAPSHOT_LEVELS]),
            "asks": _levels(book.asks[:SNAPSHOT_LEVELS]),
            "last": self.tickers.get(symbol, {}).get("price"),
            "trades": [
                {"p": num(t.price), "q": num(t.quantity), "s": t.taker_side.value, "t": t.time_ms}
                for t in list(watched.trades)[-20:]
            ],
        }
