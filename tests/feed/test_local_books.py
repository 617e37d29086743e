"""trading/feed/local_books.py: the in-process feed's books as the paper exchange reads them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.exchange.orderbook import LocalOrderBook
from trading.exchange.types import BookLevel, OrderBook
from trading.feed import local_books

SNAPSHOT = OrderBook(
    symbol="BTCUSDT",
    last_update_id=7,
    bids=(BookLevel(Decimal(100), Decimal(1)), BookLevel(Decimal(99), Decimal(2))),
    asks=(BookLevel(Decimal(101), Decimal(3)),),
)


async def _never() -> OrderBook:
    raise AssertionError("not fetched in these tests")


@pytest.fixture
def served():
    books: dict[str, LocalOrderBook] = {}
    local_books.serve(books)
    yield books
    local_books.serve(None)


def test_a_synced_book_is_read_to_the_asked_depth(served):
    book = served["BTCUSDT"] = LocalOrderBook("BTCUSDT", _never)
    book.state.load(SNAPSHOT)

    view = local_books.book("BTCUSDT", 1)

    assert view is not None
    assert view.bids == (BookLevel(Decimal(100), Decimal(1)),)
    assert view.asks == (BookLevel(Decimal(101), Decimal(3)),)


def test_a_book_out_of_sync_an_unwatched_symbol_or_no_feed_reads_as_none(served):
    book = served["BTCUSDT"] = LocalOrderBook("BTCUSDT", _never)
    assert local_books.book("BTCUSDT", 5) is None  # never synced
    book.state.load(SNAPSHOT)
    assert local_books.book("ETHUSDT", 5) is None
    local_books.serve(None)
    assert local_books.book("BTCUSDT", 5) is None
