"""Market and user-data streams from the simulated exchange over a real WebSocket."""

import asyncio
import threading
from decimal import Decimal
from typing import Any

from trading.exchange.events import (
    BookTickerEvent,
    DepthEvent,
    FillEvent,
    KlineEvent,
    OrderUpdate,
    StreamReconnected,
    SubscriptionRefused,
    TickerEvent,
    TradesEvent,
)
from trading.exchange.mexc_ws import MexcStream, StreamConfig, Topics
from trading.exchange.types import OrderRequest, OrderStatus, OrderType, Side

FAST = StreamConfig(backoff_initial_s=0.05, backoff_max_s=0.5, ping_interval_s=0.5)


async def first(events, predicate, limit=5000):
    """The first event matching `predicate`; the guard is a count, not a clock."""
    for _ in range(limit):
        event = await asyncio.wait_for(events(), 30)
        if predicate(event):
            return event
    raise AssertionError("no matching event")


async def test_market_channels_arrive_decoded(sim):
    async with MexcStream(sim.ws_url, config=FAST) as stream:
        await stream.subscribe(
            [
                Topics.deals("SOLUSDT"),
                Topics.depth("SOLUSDT"),
                Topics.kline("SOLUSDT"),
                Topics.book_ticker("SOLUSDT"),
            ]
        )
        seen = set()
        wanted = {TradesEvent, DepthEvent, KlineEvent, BookTickerEvent}
        while not wanted <= seen:
            event = await first(stream.next_event, lambda e: True)
            seen.add(type(event))
        kline = await first(stream.next_event, lambda e: isinstance(e, KlineEvent))
        assert kline.kline.symbol == "SOLUSDT"
        assert kline.kline.interval == "1m"
        assert stream.pongs >= 0


async def test_a_refused_subscription_is_reported(sim):
    async with MexcStream(sim.ws_url, config=FAST) as stream:
        await stream.subscribe(["spot@public.deals.v3.api@SOLUSDT", Topics.deals("SOLUSDT")])
        refused = await first(stream.next_event, lambda e: isinstance(e, SubscriptionRefused))
        assert refused.topic == "spot@public.deals.v3.api@SOLUSDT"
        assert stream.topics == {Topics.deals("SOLUSDT")}


async def test_more_than_30_topics_spread_over_connections(sim):
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "MXUSDT", "BTCUSDC"]
    wanted = [f(s) for s in symbols for f in (Topics.deals, Topics.depth, Topics.book_ticker)]
    wanted += [Topics.kline(s, i) for s in symbols for i in ("1m", "5m")]
    wanted.append(Topics.mini_ticker("SOLUSDT"))  # the 31st
    async with MexcStream(sim.ws_url, config=FAST) as stream:
        await stream.subscribe(wanted)
        assert stream.connections == 2
        event = await first(
            stream.next_event, lambda e: isinstance(e, KlineEvent) and e.kline.interval == "5m"
        )
        assert event.kline.symbol in symbols
        await first(stream.next_event, lambda e: isinstance(e, TradesEvent) and e.symbol == "BTCUSDC")
        await first(stream.next_event, lambda e: isinstance(e, TickerEvent))  # carried by connection 2
        assert not [e for e in stream.control_messages if "Invalid" in e]


async def test_a_dropped_connection_reconnects_and_resubscribes(sim):
    async with MexcStream(sim.ws_url, config=FAST) as stream:
        await stream.subscribe([Topics.deals("SOLUSDT"), Topics.depth("SOLUSDT")])
        await first(stream.next_event, lambda e: isinstance(e, DepthEvent))
        assert sim.disconnect_websockets(abrupt=True) == 1
        reconnected = await first(stream.next_event, lambda e: isinstance(e, StreamReconnected))
        assert set(reconnected.topics) == {Topics.deals("SOLUSDT"), Topics.depth("SOLUSDT")}
        await first(stream.next_event, lambda e: isinstance(e, DepthEvent))
        assert stream.reconnects == 1


async def test_a_connection_is_rotated_before_its_maximum_age(sim):
    config = StreamConfig(backoff_initial_s=0.05, max_age_s=0.5)
    async with MexcStream(sim.ws_url, config=config) as stream:
        await stream.subscribe([Topics.depth("SOLUSDT")])
        await first(stream.next_event, lambda e: isinstance(e, StreamReconnected))
        await first(stream.next_event, lambda e: isinstance(e, DepthEvent))
        assert stream.rotations >= 1


async def test_local_order_book_stays_consistent_across_a_reconnect(sim, client):
    book = client.order_book("SOLUSDT")
    async with MexcStream(sim.ws_url, config=FAST) as stream:
        await stream.subscribe([Topics.depth("SOLUSDT")])
        applied = 0
        while applied < 20:
            event = await asyncio.wait_for(stream.next_event(), 30)
            applied += await book.on_event(event)
            if applied == 10 and stream.reconnects == 0:
                sim.disconnect_websockets()
        view = book.view(5)
        assert view.best_bid.price < view.best_ask.price
        assert book.snapshots >= 2  # once at start, again after the reconnect
        fresh = await client.depth("SOLUSDT", limit=1000)
        assert fresh.last_update_id >= view.last_update_id


async def test_user_stream_delivers_an_order_update_and_a_fill(sim, client):
    user = await client.start_user_stream()
    assert user.listen_key
    events = client.user_events()
    order = await client.place_order(
        OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "ws-fill-1", quote_quantity=Decimal(20))
    )
    seen = []
    while not (
        any(isinstance(e, OrderUpdate) and e.status == OrderStatus.FILLED for e in seen)
        and any(isinstance(e, FillEvent) for e in seen)
    ):
        seen.append(await asyncio.wait_for(anext(events), 30))
    update = next(e for e in seen if isinstance(e, OrderUpdate) and e.status == OrderStatus.FILLED)
    fill = next(e for e in seen if isinstance(e, FillEvent))
    assert update.order_id == order.order_id
    assert update.client_order_id == "ws-fill-1"
    assert fill.fill.order_id == order.order_id
    assert fill.fill.side == Side.BUY


async def test_a_socket_that_goes_silent_without_closing_is_replaced_and_resubscribed(sim):
    # Default liveness settings: a PING after 1.5 s of quiet, dead if nothing answers within 1.5 s.
    config = StreamConfig(backoff_initial_s=0.05, backoff_max_s=0.5)
    async with MexcStream(sim.ws_url, config=config) as stream:
        await stream.subscribe([Topics.depth("SOLUSDT")])
        await first(stream.next_event, lambda e: isinstance(e, DepthEvent))

        assert await asyncio.to_thread(sim.silence_websockets) == 1  # frames and PONGs stop; no close

        await first(stream.next_event, lambda e: isinstance(e, StreamReconnected))
        after = await first(stream.next_event, lambda e: isinstance(e, DepthEvent))
        assert after.symbol == "SOLUSDT"  # resubscribed on the new socket
        assert stream.silences == 1
        assert stream.reconnects == 1


async def test_a_large_frame_is_decoded_off_the_event_loop_and_a_small_one_inline():
    threads: list[str] = []

    def decode(frame: bytes) -> list[Any]:
        threads.append(threading.current_thread().name)
        return [len(frame)]

    stream = MexcStream("ws://unused", config=StreamConfig(offload_decode_bytes=1000), decode=decode)
    try:
        assert await stream.decode_frame(b"x" * 10) == [10]
        assert await stream.decode_frame(b"x" * 5000) == [5000]
    finally:
        await stream.aclose()
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("mexc-decode")
