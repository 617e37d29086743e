from __future__ import annotations

import json
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.simexchange.helpers import Caller
from trading.exchange.proto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

SYMBOL = "SOLUSDT"
WAIT = 10  # generous receive timeout; never asserted on


def send(
    ws: ClientConnection, method: str, params: list[str] | None = None, ident: int | None = None
) -> None:
    message: dict[str, object] = {"method": method}
    if params is not None:
        message["params"] = params
    if ident is not None:
        message["id"] = ident
    ws.send(json.dumps(message))


def reply(ws: ClientConnection) -> dict:
    """The next JSON control answer, skipping binary pushes."""
    while True:
        frame = ws.recv(timeout=WAIT)
        if isinstance(frame, str):
            return json.loads(frame)


def push(ws: ClientConnection, body: str) -> PushDataV3ApiWrapper:
    """The next binary frame whose oneof is ``body``."""
    while True:
        frame = ws.recv(timeout=WAIT)
        if isinstance(frame, bytes):
            decoded = PushDataV3ApiWrapper.FromString(frame)
            if decoded.WhichOneof("body") == body:
                return decoded


def drain(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=WAIT)


def subscribe(ws: ClientConnection, *topics: str) -> dict:
    send(ws, "SUBSCRIPTION", list(topics), ident=7)
    return reply(ws)


def test_ping_is_answered_with_pong_in_either_case(sim_exchange):
    with connect(sim_exchange.ws_url) as ws:
        send(ws, "PING")
        assert reply(ws) == {"id": 0, "code": 0, "msg": "PONG"}
        send(ws, "ping")
        assert reply(ws) == {"id": 0, "code": 0, "msg": "PONG"}


def test_subscriptions_are_acknowledged_with_the_accepted_topics(sim_exchange):
    deals = f"spot@public.aggre.deals.v3.api.pb@100ms@{SYMBOL}"
    kline = f"spot@public.kline.v3.api.pb@{SYMBOL}@Min1"
    with connect(sim_exchange.ws_url) as ws:
        assert subscribe(ws, deals, kline) == {"id": 7, "code": 0, "msg": f"{deals},{kline}"}
        send(ws, "UNSUBSCRIPTION", [deals])
        assert reply(ws) == {"id": 0, "code": 0, "msg": deals}


def test_old_json_channels_are_blocked(sim_exchange):
    old = "spot@public.miniTicker.v3.api@BTCUSDT@UTC+0"
    with connect(sim_exchange.ws_url) as ws:
        assert subscribe(ws, old)["msg"] == f"Not Subscribed successfully! [{old}].  Reason\uff1a Blocked!"


def test_the_31st_subscription_is_refused(sim_exchange):
    symbols = sim_exchange.call(
        lambda: [s for s in sim_exchange.sim.market.symbols if s.endswith("USDT")][:31]
    )
    topics = [f"spot@public.aggre.deals.v3.api.pb@100ms@{s}" for s in symbols]
    with connect(sim_exchange.ws_url) as ws:
        assert subscribe(ws, *topics[:30])["msg"] == ",".join(topics[:30])
        refused = subscribe(ws, topics[30])["msg"]
        assert refused.startswith(f"Not Subscribed successfully! [{topics[30]}].")


def test_an_idle_connection_without_subscriptions_is_closed():
    with (
        SimExchangeThread(SimConfig(ws_idle_seconds=0.3)) as exchange,
        connect(exchange.ws_url) as ws,
        pytest.raises(ConnectionClosed),
    ):
        ws.recv(timeout=WAIT)


def test_a_bad_listen_key_is_refused(sim_exchange):
    with connect(f"{sim_exchange.ws_url}?listenKey=nope") as ws:
        assert ws.recv(timeout=WAIT) == "Invalid listen key"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)


def test_aggregated_deals_are_protobuf_frames(sim_exchange):
    topic = f"spot@public.aggre.deals.v3.api.pb@100ms@{SYMBOL}"
    with connect(sim_exchange.ws_url) as ws:
        subscribe(ws, topic)
        frame = push(ws, "publicAggreDeals")
    assert frame.channel == topic
    assert frame.symbol == SYMBOL
    assert frame.publicAggreDeals.eventType == "spot@public.aggre.deals.v3.api.pb@100ms"
    deal = frame.publicAggreDeals.deals[0]
    assert deal.tradeType in (1, 2)
    assert Decimal(deal.price) > 0
    assert deal.tradeId


def test_depth_pushes_chain_on_from_the_rest_snapshot(sim_exchange):
    topic = f"spot@public.aggre.depth.v3.api.pb@100ms@{SYMBOL}"
    api = Caller(sim_exchange)
    with connect(sim_exchange.ws_url) as ws:
        subscribe(ws, topic)
        snapshot = api.book(SYMBOL)
        version = snapshot["lastUpdateId"]
        book = {("bid", p): q for p, q in snapshot["bids"]} | {("ask", p): q for p, q in snapshot["asks"]}
        first = push(ws, "publicAggreDepths").publicAggreDepths
        while int(first.toVersion) < version:
            first = push(ws, "publicAggreDepths").publicAggreDepths
        assert int(first.fromVersion) <= version <= int(first.toVersion)
        previous = int(first.toVersion)
        for _ in range(5):
            depth = push(ws, "publicAggreDepths").publicAggreDepths
            assert int(depth.fromVersion) == previous + 1
            previous = int(depth.toVersion)
            for side, levels in (("bid", depth.bids), ("ask", depth.asks)):
                for level in levels:
                    book[(side, level.price)] = level.quantity
        assert depth.eventType == "spot@public.aggre.depth.v3.api.pb@100ms"


def test_kline_windows_are_in_seconds(sim_exchange):
    with connect(sim_exchange.ws_url) as ws:
        subscribe(ws, f"spot@public.kline.v3.api.pb@{SYMBOL}@Min5")
        kline = push(ws, "publicSpotKline").publicSpotKline
    assert kline.interval == "Min5"
    assert kline.windowEnd - kline.windowStart == 300
    assert kline.windowStart % 300 == 0
    assert kline.windowStart < 10**11


def test_limit_depth_book_ticker_and_batch(sim_exchange):
    topics = [
        f"spot@public.limit.depth.v3.api.pb@{SYMBOL}@5",
        f"spot@public.aggre.bookTicker.v3.api.pb@100ms@{SYMBOL}",
        f"spot@public.bookTicker.batch.v3.api.pb@{SYMBOL}",
    ]
    with connect(sim_exchange.ws_url) as ws:
        subscribe(ws, *topics)
        limit = push(ws, "publicLimitDepths").publicLimitDepths
        ticker = push(ws, "publicAggreBookTicker").publicAggreBookTicker
        batch = push(ws, "publicBookTickerBatch").publicBookTickerBatch
    assert len(limit.asks) == len(limit.bids) == 5
    assert Decimal(limit.bids[0].price) < Decimal(limit.asks[0].price)
    assert Decimal(ticker.bidPrice) < Decimal(ticker.askPrice)
    assert int(ticker.version) > 0
    assert batch.items[0].askPrice


def test_mini_tickers(sim_exchange):
    with connect(sim_exchange.ws_url) as ws:
        subscribe(
            ws, f"spot@public.miniTicker.v3.api.pb@{SYMBOL}@UTC+8", "spot@public.miniTickers.v3.api.pb@24H"
        )
        one = push(ws, "publicMiniTicker").publicMiniTicker
        every = push(ws, "publicMiniTickers").publicMiniTickers
    assert one.symbol == SYMBOL
    assert Decimal(one.price) > 0
    assert len(every.items) == 2800


def test_private_channels_follow_an_order(sim_exchange):
    api = Caller(sim_exchange)
    listen_key = api.signed("POST", "userDataStream").json()["listenKey"]
    assert api.signed("GET", "userDataStream").json() == {"listenKey": [listen_key]}
    assert api.signed("PUT", "userDataStream", {"listenKey": listen_key}).json() == {"listenKey": listen_key}
    private = [
        "spot@private.orders.v3.api.pb",
        "spot@private.deals.v3.api.pb",
        "spot@private.account.v3.api.pb",
    ]
    with connect(f"{sim_exchange.ws_url}?listenKey={listen_key}") as ws:
        assert subscribe(ws, *private)["msg"] == ",".join(private)
        placed = api.order(symbol=SYMBOL, side="BUY", type="MARKET", quoteOrderQty="50").json()
        seen: dict[str, list[PushDataV3ApiWrapper]] = {}
        while not any(o.privateOrders.status == 2 for o in seen.get("privateOrders", [])):
            frame = PushDataV3ApiWrapper.FromString(ws.recv(timeout=WAIT))
            seen.setdefault(frame.WhichOneof("body"), []).append(frame)
    account, order, deal = seen["privateAccount"][0], seen["privateOrders"][-1], seen["privateDeals"][0]
    assert seen["privateOrders"][0].privateOrders.status == 1
    assert account.channel == "spot@private.account.v3.api.pb"
    assert account.privateAccount.vcoinName == "USDT"
    assert order.privateOrders.id == placed["orderId"]
    assert order.privateOrders.orderType == 5
    assert order.privateOrders.tradeType == 1
    assert deal.privateDeals.orderId == placed["orderId"]
    assert deal.privateDeals.feeCurrency == "SOL"
    assert api.signed("DELETE", "userDataStream", {"listenKey": listen_key}).json() == {
        "listenKey": listen_key
    }


def test_private_channels_need_a_listen_key(sim_exchange):
    with connect(sim_exchange.ws_url) as ws:
        assert "Blocked!" in subscribe(ws, "spot@private.orders.v3.api.pb")["msg"]


def test_a_scripted_disconnect_drops_every_socket(sim_exchange):
    with connect(sim_exchange.ws_url) as first, connect(sim_exchange.ws_url) as second:
        subscribe(first, f"spot@public.aggre.deals.v3.api.pb@100ms@{SYMBOL}")
        subscribe(second, f"spot@public.kline.v3.api.pb@{SYMBOL}@Min1")
        assert sim_exchange.disconnect_websockets(abrupt=True) == 2
        for ws in (first, second):
            with pytest.raises(ConnectionClosed):
                drain(ws)


def test_subscribing_starts_an_idle_symbol(sim_exchange):
    assert not sim_exchange.call(lambda: sim_exchange.sim.market.symbols["KASUSDT"].active)
    with connect(sim_exchange.ws_url) as ws:
        subscribe(ws, "spot@public.aggre.depth.v3.api.pb@100ms@KASUSDT")
        depth = push(ws, "publicAggreDepths")
    assert depth.symbol == "KASUSDT"
    assert len(depth.publicAggreDepths.bids) > 0
