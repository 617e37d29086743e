"""What the feed shares outside its own memory: Candle rows and the cache snapshots pages render from.

These functions are synchronous (Django's ORM and cache); the feed calls them from its background
tasks through sync_to_async, never from the per-frame path.

Reads are served from this process's memory: a snapshot read from the cache is kept for `MEMO_S`
seconds (the feed rewrites them every second), so a busy API or page process reads the cache a
couple of times a second rather than once per request (issue 18). Callers must not mutate what
they get.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache

from trading.exchange.types import Kline
from trading.feed.state import model_interval
from trading.models import Candle, Symbol

TICKERS_KEY = "brute:tickers"
WATCHED_KEY = "brute:feed:watched"
# Snapshots outlive a few missed writes, and then vanish so a dead feed does not show frozen prices.
SNAPSHOT_TTL_S = 120
SYMBOL_NAME = re.compile(r"^[A-Z0-9]{2,30}$")
CANDLE_FIELDS = ["open", "high", "low", "close", "volume", "quote_volume"]


MEMO_S = 0.5
_MEMO_MAX = 5000
_memo: dict[str, tuple[float, Any]] = {}


def _memoized(key: str) -> Any:
    now = time.monotonic()
    found = _memo.get(key)
    if found is not None and found[0] > now:
        return found[1]
    value = cache.get(key)
    if len(_memo) >= _MEMO_MAX:
        _memo.clear()
    _memo[key] = (now + MEMO_S, value)
    return value


def memo_clear() -> None:
    """Forget what this process read (after it wrote a snapshot itself, and in tests)."""
    _memo.clear()


def book_key(symbol: str) -> str:
    return f"brute:book:{symbol}"


def candle_upsert_many(*, klines: Sequence[Kline]) -> int:
    """Closed candles in; one statement per batch, later data for the same window wins."""
    rows = {
        (k.symbol, model_interval(k.interval), k.open_time_ms): Candle(
            symbol=k.symbol,
            interval=model_interval(k.interval),
            open_time=datetime.fromtimestamp(k.open_time_ms / 1000, tz=UTC),
            open=k.open,
            high=k.high,
            low=k.low,
            close=k.close,
            volume=k.volume,
            quote_volume=k.quote_volume,
        )
        for k in klines
    }
    if not rows:
        return 0
    Candle.objects.bulk_create(
        list(rows.values()),
        batch_size=200,
        update_conflicts=True,
        unique_fields=["symbol", "interval", "open_time"],
        update_fields=CANDLE_FIELDS,
    )
    return len(rows)


def snapshot_write(
    *, tickers: dict[str, Any] | None, books: Mapping[str, dict[str, Any] | None], watched: list[str]
) -> None:
    """Writes the tickers (None: unchanged since the last write), each symbol's book snapshot, and the
    watched list. A book given as None is deleted: the symbol has no book now (delisted, or not yet in
    sync), and a page or order must not be served its last one until the TTL runs out."""
    values: dict[str, Any] = {book_key(sym): book for sym, book in books.items() if book is not None}
    values[WATCHED_KEY] = watched
    if tickers is not None:
        values[TICKERS_KEY] = tickers
    cache.set_many(values, timeout=SNAPSHOT_TTL_S)
    bookless = [book_key(sym) for sym, book in books.items() if book is None]
    if bookless:
        cache.delete_many(bookless)
    memo_clear()


def tickers_cached() -> dict[str, dict[str, str | None]]:
    """Every symbol's last price, 24 h change (percent), high, low, volumes, bid and ask, as strings."""
    found = _memoized(TICKERS_KEY)
    return found if isinstance(found, dict) else {}


def book_cached(symbol: str) -> dict[str, Any] | None:
    """A watched symbol's top of book, ten levels a side and its last trades; None when not watched."""
    found = _memoized(book_key(symbol))
    return found if isinstance(found, dict) else None


def symbols_known(names: Iterable[str]) -> set[str]:
    """The names that are real symbols: listed in the Symbol table or seen by the feed."""
    wanted = {n for n in names if SYMBOL_NAME.match(n)}
    if not wanted:
        return set()
    known = set(Symbol.objects.filter(symbol__in=wanted).values_list("symbol", flat=True))
    missing = wanted - known
    if missing:
        known |= missing & tickers_cached().keys()
    return known
