from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.simexchange.helpers import Caller
from trading.simexchange.config import SimConfig

SYMBOL = "SOLUSDT"  # API-tradable, taker 0.0005, maker 0, 2 decimals for price and quantity
TAKER = Decimal("0.0005")


@pytest.fixture
def sim_config() -> SimConfig:
    # No walk during these tests: the book only changes through the orders they place.
    return SimConfig(tick_seconds=3600, push_seconds=0.05)


@pytest.fixture
def api(sim_exchange):
    return Caller(sim_exchange)


def fee(amount: Decimal, rate: Decimal, places: str = "0.01") -> Decimal:
    return (amount * rate).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def best(api, side: str) -> tuple[Decimal, Decimal]:
    price, qty = api.book(SYMBOL)[side][0]
    return Decimal(price), Decimal(qty)


def test_a_resting_limit_order_locks_quote_and_cancel_unlocks_it(api):
    bid, _ = best(api, "bids")
    price = bid - Decimal("1.00")
    placed = api.order(
        symbol=SYMBOL, side="BUY", type="LIMIT", quantity="2", price=str(price), newClientOrderId="c1"
    )
    assert placed.status_code == 200
    body = placed.json()
    assert body["orderId"].startswith("C02__")
    assert body["orderListId"] == -1
    usdt_free, usdt_locked = api.balances()["USDT"]
    assert usdt_locked == price * 2
    assert usdt_free == Decimal(10_000) - price * 2
    assert api.query(SYMBOL, body["orderId"])["status"] == "NEW"
    assert [o["orderId"] for o in api.signed("GET", "openOrders", {"symbol": SYMBOL}).json()] == [
        body["orderId"]
    ]
    assert [str(price), "2"] in api.book(SYMBOL)["bids"]
    cancelled = api.signed("DELETE", "order", {"symbol": SYMBOL, "origClientOrderId": "c1"}).json()
    assert cancelled["status"] == "CANCELED"
    assert cancelled["origClientOrderId"] == "c1"
    assert api.balances()["USDT"] == (Decimal(10_000), Decimal(0))
    assert api.signed("GET", "openOrders", {"symbol": SYMBOL}).json() == []


def test_a_limit_order_through_the_book_fills_partially_and_rests(api):
    ask, ask_qty = best(api, "asks")
    qty = ask_qty + Decimal(1)
    body = api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity=str(qty), price=str(ask)).json()
    order = api.query(SYMBOL, body["orderId"])
    assert order["status"] == "PARTIALLY_FILLED"
    assert Decimal(order["executedQty"]) == ask_qty
    assert Decimal(order["cummulativeQuoteQty"]) == ask_qty * ask
    balances = api.balances()
    assert balances["SOL"] == (ask_qty - fee(ask_qty, TAKER), Decimal(0))
    assert balances["USDT"] == (Decimal(10_000) - qty * ask, Decimal(1) * ask)
    trades = api.signed("GET", "myTrades", {"symbol": SYMBOL, "orderId": body["orderId"]}).json()
    assert len(trades) == 1
    assert trades[0]["isMaker"] is False
    assert trades[0]["commissionAsset"] == "SOL"
    assert Decimal(trades[0]["commission"]) == fee(ask_qty, TAKER)
    assert api.book(SYMBOL)["bids"][0] == [str(ask), "1"]


def test_a_market_buy_by_quote_amount_spends_it_across_levels_and_pays_the_taker_fee(api):
    body = api.order(symbol=SYMBOL, side="BUY", type="MARKET", quoteOrderQty="3000").json()
    order = api.query(SYMBOL, body["orderId"])
    assert order["status"] == "FILLED"
    assert order["timeInForce"] is None
    spent, got = Decimal(order["cummulativeQuoteQty"]), Decimal(order["executedQty"])
    assert Decimal(2990) < spent <= Decimal(3000)
    trades = api.signed("GET", "myTrades", {"symbol": SYMBOL}).json()
    assert len({t["price"] for t in trades}) > 1
    paid = sum(Decimal(t["commission"]) for t in trades)
    assert paid == sum(fee(Decimal(t["qty"]), TAKER) for t in trades)
    assert api.balances()["SOL"] == (got - paid, Decimal(0))
    assert api.balances()["USDT"] == (Decimal(10_000) - spent, Decimal(0))


def test_a_market_sell_by_quantity_pays_the_fee_in_quote(api, sim_exchange):
    sim_exchange.set_balance("SOL", Decimal(5))
    body = api.order(symbol=SYMBOL, side="SELL", type="MARKET", quantity="5").json()
    order = api.query(SYMBOL, body["orderId"])
    assert order["status"] == "FILLED"
    proceeds = Decimal(order["cummulativeQuoteQty"])
    trades = api.signed("GET", "myTrades", {"symbol": SYMBOL}).json()
    paid = sum(Decimal(t["commission"]) for t in trades)
    assert all(t["commissionAsset"] == "USDT" for t in trades)
    assert api.balances()["USDT"] == (Decimal(10_000) + proceeds - paid, Decimal(0))
    assert "SOL" not in api.balances()


WITH_IOC_FOK = ["LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"]


def test_ioc_and_fok_on_a_symbol_that_does_not_list_them_are_refused(api):
    """Real symbols list LIMIT, MARKET, LIMIT_MAKER: an IOC or FOK there answers 30041, locks nothing."""
    ask, ask_qty = best(api, "asks")
    for kind in ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"):
        body = api.order(symbol=SYMBOL, side="BUY", type=kind, quantity=str(ask_qty), price=str(ask))
        assert body.status_code == 400
        assert body.json() == {"code": 30041, "msg": "current order type can not place order"}
    assert api.balances()["USDT"] == (Decimal(10_000), Decimal(0))


def test_ioc_fills_what_it_can_and_cancels_the_rest(api, sim_exchange):
    sim_exchange.set_order_types(SYMBOL, WITH_IOC_FOK)
    ask, ask_qty = best(api, "asks")
    body = api.order(
        symbol=SYMBOL, side="BUY", type="IMMEDIATE_OR_CANCEL", quantity=str(ask_qty + 1), price=str(ask)
    )
    order = api.query(SYMBOL, body.json()["orderId"])
    assert order["status"] == "PARTIALLY_CANCELED"
    assert order["timeInForce"] == "IOC"
    assert Decimal(order["executedQty"]) == ask_qty
    assert api.balances()["USDT"][1] == 0


def test_fok_that_cannot_fill_entirely_does_nothing(api, sim_exchange):
    sim_exchange.set_order_types(SYMBOL, WITH_IOC_FOK)
    ask, ask_qty = best(api, "asks")
    body = api.order(
        symbol=SYMBOL, side="BUY", type="FILL_OR_KILL", quantity=str(ask_qty + 1), price=str(ask)
    )
    order = api.query(SYMBOL, body.json()["orderId"])
    assert order["status"] == "CANCELED"
    assert order["executedQty"] == "0"
    assert api.balances()["USDT"] == (Decimal(10_000), Decimal(0))
    filled = api.order(symbol=SYMBOL, side="BUY", type="FILL_OR_KILL", quantity=str(ask_qty), price=str(ask))
    assert api.query(SYMBOL, filled.json()["orderId"])["status"] == "FILLED"


def test_a_limit_maker_that_would_take_is_cancelled(api):
    ask, _ = best(api, "asks")
    body = api.order(symbol=SYMBOL, side="BUY", type="LIMIT_MAKER", quantity="1", price=str(ask)).json()
    assert api.query(SYMBOL, body["orderId"])["status"] == "CANCELED"
    resting = api.order(
        symbol=SYMBOL, side="BUY", type="LIMIT_MAKER", quantity="1", price=str(ask - 1)
    ).json()
    assert api.query(SYMBOL, resting["orderId"])["status"] == "NEW"


def test_own_orders_match_with_price_time_priority(api, sim_exchange):
    sim_exchange.set_balance("SOL", Decimal(10))
    ask, _ = best(api, "asks")
    bid, _ = best(api, "bids")
    price = ((ask + bid) / 2).quantize(Decimal("0.01"))
    first = api.order(symbol=SYMBOL, side="SELL", type="LIMIT", quantity="1", price=str(price)).json()
    second = api.order(symbol=SYMBOL, side="SELL", type="LIMIT", quantity="1", price=str(price)).json()
    api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="1.5", price=str(price))
    assert api.query(SYMBOL, first["orderId"])["status"] == "FILLED"
    assert api.query(SYMBOL, second["orderId"])["status"] == "PARTIALLY_FILLED"
    trades = api.signed("GET", "myTrades", {"symbol": SYMBOL}).json()
    assert all(t["isSelfTrade"] for t in trades)
    assert sorted(t["isMaker"] for t in trades) == [False, False, True, True]


def test_a_resting_order_fills_when_the_market_walks_through_it(api, sim_exchange):
    bid, _ = best(api, "bids")
    price = bid - Decimal("2.00")
    body = api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="1", price=str(price)).json()
    sim_exchange.set_price(SYMBOL, price - Decimal("3.00"))
    order = api.query(SYMBOL, body["orderId"])
    assert order["status"] == "FILLED"
    assert Decimal(order["cummulativeQuoteQty"]) == price
    trade = api.signed("GET", "myTrades", {"symbol": SYMBOL}).json()[0]
    assert trade["isMaker"] is True
    assert trade["commission"] == "0"
    assert api.balances()["SOL"] == (Decimal(1), Decimal(0))


def test_cancel_all_open_orders_on_a_symbol(api):
    bid, _ = best(api, "bids")
    for offset in (1, 2):
        api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="1", price=str(bid - offset))
    cancelled = api.signed("DELETE", "openOrders", {"symbol": SYMBOL}).json()
    assert [c["status"] for c in cancelled] == ["CANCELED", "CANCELED"]
    assert api.balances()["USDT"] == (Decimal(10_000), Decimal(0))
    assert len(api.signed("GET", "allOrders", {"symbol": SYMBOL}).json()) == 2


def test_order_test_validates_without_placing(api):
    assert (
        api.signed(
            "POST", "order/test", {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quoteOrderQty": "5"}
        ).json()
        == {}
    )
    assert api.signed("GET", "allOrders", {"symbol": SYMBOL}).json() == []
    refused = api.signed(
        "POST", "order/test", {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quoteOrderQty": "0.5"}
    )
    assert refused.json()["code"] == 30002


def test_account_and_trade_fee(api):
    account = api.signed("GET", "account").json()
    assert account["accountType"] == "SPOT"
    assert {"asset": "USDT", "free": "10000", "locked": "0", "available": "10000"} in account["balances"]
    assert {b["asset"] for b in account["balances"]} == {"USDT", "BTC", "ETH"}
    fee_body = api.signed("GET", "tradeFee", {"symbol": SYMBOL}).json()
    assert fee_body["data"] == {"makerCommission": 0.0, "takerCommission": 0.0005}
    assert fee_body["code"] == 0


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPEUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "1"}, -1121),
        ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "80000"}, 10007),
        ({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "50"}, 30002),
        ({"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quoteOrderQty": "0.5"}, 30002),
        ({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "120"}, 30004),
        ({"symbol": SYMBOL, "side": "SELL", "type": "MARKET", "quantity": "1"}, 30004),
        ({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "700"}, 30087),
        ({"symbol": SYMBOL, "side": "SELL", "type": "LIMIT", "quantity": "0.1", "price": "20"}, 30087),
        ({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "120"}, 10096),
        ({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": "1"}, 44444),
        ({"symbol": SYMBOL, "side": "BUY", "type": "STOP", "quantity": "1"}, 33333),
        ({"symbol": "ETHUSDC", "side": "BUY", "type": "MARKET", "quoteOrderQty": "10"}, 30041),
    ],
)
def test_orders_breaking_a_rule_get_its_error(api, params, code):
    response = api.order(**params)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_the_errors_carry_the_documented_messages(api):
    refused = api.order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.001", price="80000").json()
    assert refused == {"code": 10007, "msg": "symbol not support api"}
    small = api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="0.01", price="50").json()
    assert small == {"code": 30002, "msg": "The minimum transaction volume cannot be less than:1USDT"}
    broke = api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="100", price="120").json()
    assert broke == {"code": 30004, "msg": "Insufficient position"}


def test_unknown_orders(api):
    cancel = api.signed("DELETE", "order", {"symbol": SYMBOL, "orderId": "C02__1"})
    assert cancel.json() == {"code": -2011, "msg": "Unknown order sent."}
    query = api.signed("GET", "order", {"symbol": SYMBOL, "orderId": "C02__1"})
    assert query.json() == {"code": -2013, "msg": "Order does not exist."}
    neither = api.signed("GET", "order", {"symbol": SYMBOL})
    assert neither.json()["code"] == 700004


def test_a_filled_order_cannot_be_cancelled(api):
    body = api.order(symbol=SYMBOL, side="BUY", type="MARKET", quoteOrderQty="10").json()
    again = api.signed("DELETE", "order", {"symbol": SYMBOL, "orderId": body["orderId"]})
    assert again.json()["code"] == -2011


def test_market_orders_disabled_for_the_api_is_30051(api, sim_exchange):
    sim_exchange.set_api_market_orders(SYMBOL, enabled=False)
    refused = api.order(symbol=SYMBOL, side="BUY", type="MARKET", quoteOrderQty="10").json()
    assert refused == {"code": 30051, "msg": "api market order is disabled"}
    ask, _ = best(api, "asks")
    limit = api.order(symbol=SYMBOL, side="BUY", type="LIMIT", quantity="0.1", price=str(ask))
    assert limit.status_code == 200
