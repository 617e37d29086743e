"""The feed's in-memory state on its own: plain values in, one payload out."""

from __future__ import annotations

import json
from decimal import Decimal

from trading.exchange.events import TickerEvent
from trading.exchange.types import Kline
from trading.feed.state import MarketState

D = Decimal
T0 = 1_795_000_200_000  # a 5-minute boundary


def k(interval: str, start: int, length: int, o: str, h: str, low: str, c: str, v: str) -> Kline:
    return Kline("BTCUSDT", interval, start, start + length, D(o), D(h), D(low), D(c), D(v), D(v) * 100)


def test_a_longer_interval_rolls_up_from_the_1m_stream_without_counting_a_minute_twice():
    state = MarketState()
    state.watch("BTCUSDT")
    state.on_kline(k("1m", T0 + 120_000, 60_000, "100", "101", "99", "100", "2"))
    # REST's forming 5m candle already includes the current minute's 2 units.
    state.seed_rollup(k("5m", T0, 300_000, "98", "102", "97", "100", "10"))
    state.on_kline(k("1m", T0 + 120_000, 60_000, "100", "103", "99", "102", "3"))  # same minute, grew
    state.on_kline(k("1m", T0 + 180_000, 60_000, "102", "102", "96", "97", "1"))  # next minute
    five = state.symbols["BTCUSDT"].forming["5m"]
    assert (five.open, five.high, five.low, five.close) == (D("98"), D("103"), D("96"), D("97"))
    assert five.volume == D("12")  # 8 before this minute + 3 + 1


def test_a_rolled_up_window_ends_when_the_stream_moves_past_it():
    state = MarketState()
    state.watch("BTCUSDT")
    state.seed_rollup(k("5m", T0, 300_000, "98", "102", "97", "100", "10"))
    _, ended = state.on_kline(k("1m", T0 + 300_000, 60_000, "100", "100", "100", "100", "1"))
    assert [e.open_time_ms for e in ended] == [T0]
    fresh = state.symbols["BTCUSDT"].forming["5m"]
    assert (fresh.open_time_ms, fresh.open, fresh.volume) == (T0 + 300_000, D("100"), D("1"))


def test_changes_within_one_window_go_out_as_one_frame():
    state = MarketState()
    state.watch("BTCUSDT")
    state.on_kline(k("1m", T0, 60_000, "100", "101", "99", "100", "2"))
    state.on_kline(k("1m", T0, 60_000, "100", "101", "99", "100.5", "2.5"))
    text = state.take_symbol_payload("BTCUSDT")
    assert text is not None
    message = json.loads(text)
    assert message == {
        "type": "candle", "symbol": "BTCUSDT", "interval": "1m", "t": T0, "o": "100", "h": "101",
        "l": "99", "c": "100.5", "v": "2.5", "qv": "250.0", "closed": False,
    }  # fmt: skip
    assert state.take_symbol_payload("BTCUSDT") is None  # nothing new since


def test_a_repeated_ticker_with_the_same_price_is_not_republished():
    from trading.exchange.events import TickerEvent

    state = MarketState()
    event = TickerEvent("BTCUSDT", D("100"), D("0.0123"), D("101"), D("99"), D("5"), D("500"), T0)
    state.on_ticker(event)
    assert json.loads(state.take_tickers_payload() or "{}")["data"]["BTCUSDT"]["change"] == "1.23"
    state.on_ticker(event)
    assert state.take_tickers_payload() is None


def test_a_symbol_the_exchange_no_longer_lists_turns_unavailable_in_the_snapshot_and_the_push():
    from trading.exchange.events import TickerEvent

    state = MarketState()
    state.watch("SOLUSDT")
    for symbol in ("BTCUSDT", "SOLUSDT"):
        state.on_ticker(TickerEvent(symbol, D("100"), D("0.01"), D("101"), D("99"), D("5"), D("500"), T0))
    state.take_tickers_payload(), state.take_symbol_payload("SOLUSDT")

    assert state.on_listing({"BTCUSDT"}) == ["SOLUSDT"]  # the exchange restarted without SOLUSDT

    gone = {"price": None, "change": None, "high": None, "low": None, "volume": None,
            "quote_volume": None, "bid": None, "ask": None, "state": "unavailable"}  # fmt: skip
    assert state.tickers_snapshot()["SOLUSDT"] == gone
    assert json.loads(state.take_tickers_payload() or "{}")["data"] == {"SOLUSDT": gone}
    assert json.loads(state.take_symbol_payload("SOLUSDT") or "{}")["messages"] == [
        {"type": "ticker", "symbol": "SOLUSDT", **gone},
        {"type": "book", "symbol": "SOLUSDT", "version": 0, "bids": [], "asks": [], "state": "unavailable"},
    ]
    assert state.tickers_snapshot()["BTCUSDT"]["price"] == "100"
    assert state.on_listing({"BTCUSDT"}) == []  # said once, not on every listing
    assert state.take_tickers_payload() is None


def test_a_symbol_the_exchange_no_longer_lists_loses_its_book_and_trades_with_its_price():
    from trading.exchange.types import BookLevel, OrderBook, Side, Trade

    state = MarketState()
    watched = state.watch("SOLUSDT")
    book = OrderBook("SOLUSDT", 7, bids=(BookLevel(D("99"), D("2")),), asks=(BookLevel(D("101"), D("3")),))
    watched.book_view = lambda: book
    state.on_book(book)
    state.on_trades("SOLUSDT", (Trade("SOLUSDT", D("100"), D("1"), T0, Side.BUY),))
    state.on_ticker(TickerEvent("SOLUSDT", D("100"), D("0.01"), D("101"), D("99"), D("5"), D("500"), T0))
    state.take_symbol_payload("SOLUSDT")
    assert state.book_snapshot("SOLUSDT") is not None

    state.on_listing({"BTCUSDT"})

    assert (watched.book, watched.book_view, list(watched.trades)) == (None, None, [])
    assert state.book_snapshot("SOLUSDT") is None  # so the feed deletes the cached one
    messages = json.loads(state.take_symbol_payload("SOLUSDT") or "{}")["messages"]
    assert [m for m in messages if m["type"] == "book"] == [
        {"type": "book", "symbol": "SOLUSDT", "version": 0, "bids": [], "asks": [], "state": "unavailable"}
    ]
    assert not any(m["type"] == "trades" for m in messages)
    assert state.take_symbol_payload("SOLUSDT") is None  # the empty book is said once


def test_a_symbol_listed_again_is_live_again():
    from trading.exchange.events import TickerEvent

    state = MarketState()
    event = TickerEvent("SOLUSDT", D("100"), D("0.01"), D("101"), D("99"), D("5"), D("500"), T0)
    state.on_ticker(event)
    state.on_listing(set())
    state.take_tickers_payload()

    state.on_ticker(event)  # the same figures as before it went: still news, it is back

    row = json.loads(state.take_tickers_payload() or "{}")["data"]["SOLUSDT"]
    assert row["price"] == "100"
    assert "state" not in row
