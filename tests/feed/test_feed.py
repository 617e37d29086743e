from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from config.health import MARKET_FEED_KEY
from config.realtime import FEED_CONTROL_GROUP
from tests.feed.conftest import WAIT_S, listen, next_of, until
from trading.exchange.events import StreamReconnected
from trading.feed.service import WATCH_MESSAGE
from trading.feed.store import book_cached, tickers_cached
from trading.models import Candle

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_publishes_tickers_to_the_markets_group(make_feed):
    feed = await make_feed()
    channel = await listen(feed.layer, "markets")
    tickers = await next_of(feed.layer, channel, "tickers")
    row = next(iter(tickers["data"].values()))
    assert Decimal(row["price"]) > 0
    assert {"price", "change", "high", "low", "volume", "quote_volume"} <= row.keys()


async def test_it_publishes_book_trades_and_the_forming_candle_of_a_watched_symbol(make_feed):
    feed = await make_feed()
    channel = await listen(feed.layer, "market.BTCUSDT")
    book = await next_of(feed.layer, channel, "book", "BTCUSDT")
    assert Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
    assert len(book["bids"]) <= 20
    candle = await next_of(feed.layer, channel, "candle", "BTCUSDT")
    assert candle["interval"] == "1m"
    assert candle["closed"] is False
    assert Decimal(candle["l"]) <= Decimal(candle["c"]) <= Decimal(candle["h"])
    five = await next_of(feed.layer, channel, "candle", "BTCUSDT", interval="5m")
    assert Decimal(five["l"]) <= Decimal(five["c"]) <= Decimal(five["h"])  # rolled up from the 1m stream
    trades = await next_of(feed.layer, channel, "trades", "BTCUSDT")
    assert trades["trades"][0]["s"] in {"BUY", "SELL"}


async def test_it_keeps_a_ticker_snapshot_and_top_of_book_in_the_cache(make_feed):
    feed = await make_feed()
    await until(lambda: "BTCUSDT" in feed.state.tickers and feed.state.symbols["BTCUSDT"].book is not None)
    await feed.write_snapshot()
    await feed.heartbeat()
    tickers = await sync_to_async(tickers_cached)()
    assert Decimal(tickers["BTCUSDT"]["price"]) > 0
    assert len(tickers) > 100  # REST ticker/24hr seeds every symbol, not just the streamed ones
    book = await sync_to_async(book_cached)("BTCUSDT")
    assert book is not None
    assert Decimal(book["bid"]) < Decimal(book["ask"])
    assert await sync_to_async(cache.get)(MARKET_FEED_KEY)


async def test_it_backfills_candles_into_the_table(make_feed):
    feed = await make_feed()
    await until(lambda: feed.backfills >= 1)
    await feed.flush_candles()
    count = await sync_to_async(Candle.objects.filter(symbol="BTCUSDT", interval="1m").count)()
    assert count >= 10
    five = await sync_to_async(Candle.objects.filter(symbol="BTCUSDT", interval="5m").count)()
    assert five >= 2


async def test_backfill_twice_updates_rows_instead_of_duplicating(make_feed):
    feed = await make_feed()
    await until(lambda: feed.backfills >= 1)
    await feed.flush_candles()
    before = await sync_to_async(Candle.objects.count)()
    await feed.backfill("BTCUSDT")
    await feed.flush_candles()
    after = await sync_to_async(Candle.objects.count)()
    assert after - before <= 2  # at most the windows that closed meanwhile


async def test_a_watch_message_starts_streaming_a_symbol(make_feed):
    feed = await make_feed()
    channel = await listen(feed.layer, "market.ETHUSDT")
    await feed.layer.group_send(FEED_CONTROL_GROUP, {"type": WATCH_MESSAGE, "symbols": ["ETHUSDT"]})
    book = await next_of(feed.layer, channel, "book", "ETHUSDT")
    assert book["asks"]
    assert "ETHUSDT" in feed.state.symbols


async def test_a_symbol_nobody_watches_is_released(make_feed):
    feed = await make_feed(release_after_s=0.2, reap_every_s=0.05)
    await feed.watch("ETHUSDT")
    await until(lambda: "ETHUSDT" not in feed.state.symbols)
    assert "BTCUSDT" in feed.state.symbols  # the configured default set stays
    assert not any("ETHUSDT" in topic for topic in feed.stream.topics)


async def test_it_recovers_when_the_exchange_drops_the_socket(make_feed, sim):
    feed = await make_feed()
    channel = await listen(feed.layer, "market.BTCUSDT")
    before = (await next_of(feed.layer, channel, "book", "BTCUSDT"))["version"]
    snapshots = feed.books["BTCUSDT"].snapshots
    await sync_to_async(sim.disconnect_websockets)(abrupt=True)
    await until(lambda: feed.stream.reconnects >= 1)
    # The order book is re-snapshotted after the reconnect, and newer books flow again.
    await until(lambda: feed.books["BTCUSDT"].snapshots > snapshots)
    while (book := await next_of(feed.layer, channel, "book", "BTCUSDT"))["version"] <= before:
        pass
    assert Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])


async def test_several_changes_within_a_window_go_out_as_one_frame(make_feed):
    feed = await make_feed(symbol_interval_s=0.3)
    channel = await listen(feed.layer, "market.BTCUSDT")
    while (message := json.loads((await feed.layer.receive(channel))["text"]))["type"] != "batch":
        pass
    kinds = [(part["type"], part.get("interval")) for part in message["messages"]]
    assert len(kinds) == len(set(kinds)) >= 2  # each part once: the latest book, all new trades, ...


async def test_the_web_process_starts_one_feed_lazily_when_there_is_no_redis(sim, settings):
    from trading.feed import inprocess

    settings.MEXC_BASE_URL, settings.MEXC_WS_URL = sim.base_url, sim.ws_url
    calls: list[str] = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    starter = inprocess.FeedStarter(app, enabled=True)
    try:
        await starter({"type": "http"}, None, None)
        feed = inprocess._feed
        await starter({"type": "websocket"}, None, None)
        assert inprocess._feed is feed  # idempotent: one feed per process
        assert calls == ["http", "websocket"]
        await until(feed.started.is_set)
        channel = await listen(feed.layer, "markets")
        await next_of(feed.layer, channel, "tickers")
    finally:
        await inprocess.stop()


async def test_a_lifespan_server_starts_and_stops_the_feed(sim, settings):
    from trading.feed import inprocess, local_books

    settings.MEXC_BASE_URL, settings.MEXC_WS_URL = sim.base_url, sim.ws_url
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            assert inprocess._feed is not None
            assert local_books._books is inprocess._feed.books  # the paper exchange reads these

    await inprocess.FeedStarter(None, enabled=True)({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert inprocess._feed is None
    assert local_books._books is None


def test_pages_renew_a_watch_well_inside_the_feeds_lease():
    from trading.consumers import WATCH_RENEW_S as renew_every
    from trading.feed.service import FeedConfig

    assert 3 * renew_every < FeedConfig().release_after_s
    assert 3 * renew_every < FeedConfig.from_settings().release_after_s


async def test_a_symbol_the_exchange_stopped_listing_is_published_and_cached_as_unavailable(make_feed):
    feed = await make_feed(rest_tickers_every_s=0.1)
    await until(lambda: "BTCUSDT" in feed.state.tickers)
    # What the feed kept from before the exchange restarted without GONEUSDT, shown on a page.
    feed.state.tickers["GONEUSDT"] = {"price": "1.5", "change": "0.5", "bid": "1.4", "ask": "1.6"}
    feed.state.watch("GONEUSDT")
    page, markets_page = await listen(feed.layer, "market.GONEUSDT"), await listen(feed.layer, "markets")

    pushed = await next_of(feed.layer, page, "ticker", "GONEUSDT", state="unavailable")
    assert (pushed["price"], pushed["bid"], pushed["ask"]) == (None, None, None)
    async with asyncio.timeout(WAIT_S):
        while "GONEUSDT" not in (markets := await next_of(feed.layer, markets_page, "tickers"))["data"]:
            pass
    assert markets["data"]["GONEUSDT"]["state"] == "unavailable"
    assert markets["data"]["GONEUSDT"]["price"] is None
    await feed.write_snapshot()
    tickers = await sync_to_async(tickers_cached)()
    assert (tickers["GONEUSDT"]["price"], tickers["GONEUSDT"]["state"]) == (None, "unavailable")
    assert Decimal(tickers["BTCUSDT"]["price"]) > 0  # what it still lists stays live


async def test_a_reconnect_re_reads_the_listing_at_once_in_case_the_exchange_restarted(make_feed):
    feed = await make_feed(rest_tickers_every_s=3600)
    await until(lambda: feed.state.tickers.get("ETHUSDT", {}).get("bid") is not None)  # the first REST read
    feed.state.tickers["GONEUSDT"] = {"price": "1.5", "change": "0.5", "bid": "1.4", "ask": "1.6"}

    await feed.handle(StreamReconnected(topics=()))

    await until(lambda: feed.state.tickers["GONEUSDT"].get("state") == "unavailable")
    assert feed.state.tickers["GONEUSDT"]["price"] is None


async def test_a_symbol_the_exchange_stopped_listing_loses_its_book_in_memory_and_in_the_cache(make_feed):
    from trading.exchange.orderbook import LocalOrderBook
    from trading.exchange.types import BookLevel, OrderBook, Side, Trade
    from trading.feed import local_books

    # The ticker poll is run by hand below, once GONEUSDT's book is known to be cached: a periodic one
    # could notice the symbol is gone before that, and the "before" would never be seen.
    feed = await make_feed(rest_tickers_every_s=3600)
    await until(lambda: "BTCUSDT" in feed.state.tickers and feed.state.symbols["BTCUSDT"].book is not None)
    page = await listen(feed.layer, "market.GONEUSDT")
    # GONEUSDT as the feed held it before the exchange restarted without it: a book in sync, trades.
    bid, ask = BookLevel(Decimal("1.4"), Decimal(5)), BookLevel(Decimal("1.6"), Decimal(5))
    book = OrderBook("GONEUSDT", 7, bids=(bid,), asks=(ask,))
    held = LocalOrderBook("GONEUSDT", lambda: asyncio.sleep(0, book))
    held.state.load(book)
    feed.books["GONEUSDT"] = held
    watched = feed.state.watch("GONEUSDT")
    watched.book = book
    watched.trades.append(Trade("GONEUSDT", Decimal("1.5"), Decimal(1), 1, Side.BUY))
    feed.state.tickers["GONEUSDT"] = {"price": "1.5", "change": "0.5", "bid": "1.4", "ask": "1.6"}
    await feed.write_snapshot()
    assert (await sync_to_async(book_cached)("GONEUSDT"))["bids"] == [["1.4", "5"]]

    await feed._poll_tickers()
    pushed = await next_of(feed.layer, page, "book", "GONEUSDT", state="unavailable")

    assert (pushed["bids"], pushed["asks"]) == ([], [])
    local_books.serve(feed.books)
    try:
        assert local_books.book("GONEUSDT", 100) is None  # a paper order gets no frozen book to fill against
    finally:
        local_books.serve(None)
    assert list(feed.state.symbols["GONEUSDT"].trades) == []
    await feed.write_snapshot()
    assert await sync_to_async(book_cached)("GONEUSDT") is None
    assert await sync_to_async(book_cached)("BTCUSDT") is not None  # what it still lists keeps its book
