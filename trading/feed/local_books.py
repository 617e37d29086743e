"""The order books of the market feed running in this process, for readers in the same process (the
paper exchange fills against them). The in-process feed (`inprocess.py`) serves its books here and
`trading/exchanges.py` reads them: this module sits below both, so neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping

from trading.exchange.orderbook import LocalOrderBook
from trading.exchange.types import OrderBook

_books: Mapping[str, LocalOrderBook] | None = None


def serve(books: Mapping[str, LocalOrderBook] | None) -> None:
    """The running feed's books by symbol (the feed keeps the mapping current), or None once it stops."""
    global _books
    _books = books


def book(symbol: str, depth: int) -> OrderBook | None:
    """The symbol's book as this process's market feed holds it in memory, `depth` levels a side, or
    None (no feed here, the symbol not watched, or the book not in sync)."""
    found = _books.get(symbol) if _books is not None else None
    if found is None or not found.synced:
        return None
    try:
        view = found.view(depth)
    except RuntimeError:  # the feed's loop changed the book while this thread copied it
        return None
    return view if view.bids or view.asks else None
