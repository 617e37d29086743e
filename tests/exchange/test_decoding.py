from decimal import Decimal

from trading.exchange.events import (
    BalanceUpdate,
    BookTickerEvent,
    DepthEvent,
    FillEvent,
    KlineEvent,
    OrderUpdate,
    TickerEvent,
    TradesEvent,
)
from trading.exchange.types import OrderStatus, OrderType, Side
from trading.exchange.ws_decode import Wrapper, decode_frame


def frame(**fields):
    return Wrapper(**fields).SerializeToString()


def test_it_decodes_aggregated_deals_into_trades_with_taker_side():
    raw = frame(
        channel="spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
        symbol="BTCUSDT",
        sendTime=1736409765052,
        publicAggreDeals={
            "deals": [{"price": "93220.00", "quantity": "0.04438243", "tradeType": 2, "time": 1736409765051}],
            "eventType": "spot@public.aggre.deals.v3.api.pb@100ms",
        },
    )
    [event] = decode_frame(raw)
    assert isinstance(event, TradesEvent)
    [trade] = event.trades
    assert (trade.price, trade.quantity, trade.taker_side) == (
        Decimal("93220.00"),
        Decimal("0.04438243"),
        Side.SELL,
    )


def test_it_decodes_depth_versions_as_integers():
    raw = frame(
        channel="spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT",
        symbol="BTCUSDT",
        sendTime=1,
        publicAggreDepths={
            "asks": [{"price": "117145.49", "quantity": "0"}],
            "bids": [{"price": "117053.41", "quantity": "1.86837271"}],
            "fromVersion": "43296363236",
            "toVersion": "43296363255",
        },
    )
    [event] = decode_frame(raw)
    assert isinstance(event, DepthEvent)
    assert (event.from_version, event.to_version) == (43296363236, 43296363255)
    assert event.asks[0].quantity == 0


def test_it_converts_kline_windows_from_seconds_and_reads_the_symbol_from_the_channel():
    raw = frame(
        channel="spot@public.kline.v3.api.pb@BTCUSDT@Min60",
        publicSpotKline={
            "interval": "Min60",
            "windowStart": 1754737200,
            "windowEnd": 1754740800,
            "openingPrice": "1",
        },
    )
    [event] = decode_frame(raw)
    assert isinstance(event, KlineEvent)
    assert event.kline.symbol == "BTCUSDT"
    assert event.kline.interval == "1h"
    assert event.kline.open_time_ms == 1754737200000
    assert event.kline.close_time_ms == 1754740800000


def test_it_decodes_mini_ticker_volume_as_quote_and_quantity_as_base():
    raw = frame(
        channel="spot@public.miniTicker.v3.api.pb@MXUSDT@UTC+8",
        symbol="MXUSDT",
        sendTime=5,
        publicMiniTicker={
            "symbol": "MXUSDT",
            "price": "2.5174",
            "rate": "0.0766",
            "zonedRate": "0.07",
            "volume": "11336518.0264",
            "quantity": "4638390.17",
        },
    )
    [event] = decode_frame(raw)
    assert isinstance(event, TickerEvent)
    assert event.quote_volume == Decimal("11336518.0264")
    assert event.volume == Decimal("4638390.17")
    assert event.change_fraction == Decimal("0.07")


def test_it_decodes_book_ticker():
    raw = frame(
        channel="spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
        symbol="BTCUSDT",
        publicAggreBookTicker={"bidPrice": "1", "bidQuantity": "2", "askPrice": "3", "askQuantity": "4"},
    )
    [event] = decode_frame(raw)
    assert isinstance(event, BookTickerEvent)
    assert event.ask_price == 3


def test_it_decodes_private_orders_deals_and_account():
    order = frame(
        channel="spot@private.orders.v3.api.pb",
        symbol="MXUSDT",
        privateOrders={
            "id": "C02__1",
            "clientId": "brute-7",
            "price": "3.5121",
            "quantity": "1",
            "orderType": 5,
            "tradeType": 2,
            "status": 2,
            "cumulativeQuantity": "1",
            "cumulativeAmount": "3.6962",
            "lastDealQuantity": "1",
            "createTime": 9,
        },
    )
    deal = frame(
        channel="spot@private.deals.v3.api.pb",
        symbol="MXUSDT",
        privateDeals={
            "price": "3.6962",
            "quantity": "1",
            "amount": "3.6962",
            "tradeType": 2,
            "tradeId": "t1",
            "orderId": "C02__1",
            "feeAmount": "0.0004",
            "feeCurrency": "MX",
            "time": 10,
        },
    )
    account = frame(
        channel="spot@private.account.v3.api.pb",
        privateAccount={
            "vcoinName": "USDT",
            "balanceAmount": "21.9",
            "balanceAmountChange": "10",
            "frozenAmount": "0",
            "type": "ENTRUST",
            "time": 11,
        },
    )
    [o], [f], [a] = decode_frame(order), decode_frame(deal), decode_frame(account)
    assert isinstance(o, OrderUpdate)
    assert (o.order_id, o.client_order_id, o.type, o.status, o.side) == (
        "C02__1",
        "brute-7",
        OrderType.MARKET,
        OrderStatus.FILLED,
        Side.SELL,
    )
    assert isinstance(f, FillEvent)
    assert (f.fill.order_id, f.fill.commission, f.fill.commission_asset) == (
        "C02__1",
        Decimal("0.0004"),
        "MX",
    )
    assert isinstance(a, BalanceUpdate)
    assert (a.asset, a.free, a.free_change, a.reason) == ("USDT", Decimal("21.9"), Decimal("10"), "ENTRUST")


def test_it_ignores_frames_without_a_known_body():
    assert decode_frame(frame(channel="spot@public.deals.v3.api.pb@BTCUSDT", publicDeals={})) == []
