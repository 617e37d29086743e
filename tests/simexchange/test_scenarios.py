from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from tests.simexchange.helpers import Caller
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

SYMBOL = "SOLUSDT"


@pytest.fixture
def api(sim_exchange):
    return Caller(sim_exchange)


def orders_placed(api) -> int:
    return len(api.signed("GET", "allOrders", {"symbol": SYMBOL}).json())


def buy_ten_usdt(api, timeout: float = 10) -> httpx.Response:
    params = {"symbol": SYMBOL, "side": "BUY", "type": "MARKET", "quoteOrderQty": "10"}
    return api.signed("POST", "order", params, timeout=timeout)


def test_a_new_listing_is_closed_until_its_open_time_then_trades(api, sim_exchange):
    opens_at = sim_exchange.now() + 400
    sim_exchange.add_listing("NEWCOINUSDT", opens_at=opens_at, price=Decimal("0.0523"))
    info = api.public("exchangeInfo", symbol="NEWCOINUSDT").json()["symbols"][0]
    assert info["status"] == "2"
    assert info["isSpotTradingAllowed"] is False
    assert "NEWCOINUSDT" not in api.public("defaultSymbols").json()["data"]
    early = api.order(symbol="NEWCOINUSDT", side="BUY", type="LIMIT", quantity="100", price="0.06")
    assert early.json() == {"code": 10007, "msg": "symbol not support api"}
    while sim_exchange.now() <= opens_at:
        time.sleep(0.05)
    placed = api.order(symbol="NEWCOINUSDT", side="BUY", type="MARKET", quoteOrderQty="20")
    assert placed.status_code == 200
    assert api.query("NEWCOINUSDT", placed.json()["orderId"])["status"] == "FILLED"
    assert api.public("exchangeInfo", symbol="NEWCOINUSDT").json()["symbols"][0]["status"] == "1"
    assert "NEWCOINUSDT" in api.public("defaultSymbols").json()["data"]
    assert Decimal(api.balances()["NEWCOIN"][0]) > 0


def test_a_listing_can_refuse_api_market_orders_from_the_open(api, sim_exchange):
    sim_exchange.add_listing("SNIPEUSDT", opens_at=0, price=Decimal("1.5"), api_market_orders=False)
    refused = api.order(symbol="SNIPEUSDT", side="BUY", type="MARKET", quoteOrderQty="10")
    assert refused.json()["code"] == 30051
    ask = Decimal(api.book("SNIPEUSDT")["asks"][0][0])
    fallback = api.order(symbol="SNIPEUSDT", side="BUY", type="LIMIT", quantity="5", price=str(ask * 2))
    assert api.query("SNIPEUSDT", fallback.json()["orderId"])["status"] == "FILLED"


def test_an_injected_5xx_before_processing_places_nothing(api, sim_exchange):
    sim_exchange.fail_next("/api/v3/order", status=503, method="POST")
    response = buy_ten_usdt(api)
    assert response.status_code == 503
    assert response.json() == {"code": 503, "msg": "service not available"}
    assert orders_placed(api) == 0
    assert buy_ten_usdt(api).status_code == 200


def test_an_accepted_order_can_still_answer_5xx(api, sim_exchange):
    sim_exchange.fail_next("/api/v3/order", status=500, method="POST", after_processing=True)
    response = buy_ten_usdt(api)
    assert response.status_code == 500
    assert orders_placed(api) == 1


def test_a_late_answer_times_the_client_out_but_the_order_is_placed(api, sim_exchange):
    sim_exchange.delay_next("/api/v3/order", seconds=1.0, method="POST")
    with pytest.raises(httpx.ReadTimeout):
        buy_ten_usdt(api, timeout=0.2)
    assert orders_placed(api) == 1


def test_a_429_burst(api, sim_exchange):
    sim_exchange.rate_limit_next(2)
    first, second, third = (api.public("ping") for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.json() == {"code": 429, "msg": "Too Many Requests"}
    assert third.status_code == 200


def test_the_control_endpoint_scripts_an_out_of_process_server(api, sim_exchange):
    control = httpx.Client(base_url=sim_exchange.base_url)
    opens_at = sim_exchange.now() + 60_000
    listed = control.post("/_sim/listing", json={"symbol": "LATERUSDT", "openTime": opens_at, "price": "2.5"})
    assert listed.json() == {"ok": True, "symbol": "LATERUSDT"}
    assert (
        api.order(symbol="LATERUSDT", side="BUY", type="LIMIT", quantity="1", price="2.5").json()["code"]
        == 10007
    )
    control.post("/_sim/listing/open", json={"symbol": "LATERUSDT"})
    assert (
        api.order(symbol="LATERUSDT", side="BUY", type="LIMIT", quantity="1", price="2.5").status_code == 200
    )
    control.post("/_sim/fault", json={"path": "/api/v3/time", "status": 504})
    assert api.public("time").status_code == 504
    control.post("/_sim/fault", json={"path": "/api/v3/time", "rateLimited": True, "count": 1})
    assert api.public("time").status_code == 429
    control.post("/_sim/market-orders", json={"symbol": SYMBOL, "enabled": False})
    assert buy_ten_usdt(api).json()["code"] == 30051
    control.post("/_sim/balance", json={"asset": "USDT", "free": "5"})
    assert api.balances()["USDT"][0] == Decimal(5)
    assert control.post("/_sim/ws/disconnect", json={}).json() == {"ok": True, "disconnected": 0}


def test_weight_limits_answer_429_then_ban_with_418():
    config = SimConfig(
        rate_limit_weight=20, rate_limit_window=60, rate_limit_strikes=3, rate_limit_ban_seconds=30
    )
    with SimExchangeThread(config) as exchange:
        api = Caller(exchange)
        assert api.public("exchangeInfo", symbol=SYMBOL).status_code == 200
        assert api.public("exchangeInfo", symbol=SYMBOL).status_code == 200
        limited = api.public("exchangeInfo", symbol=SYMBOL)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        # Another endpoint has its own budget.
        assert api.public("ping").status_code == 200
        assert api.public("exchangeInfo", symbol=SYMBOL).status_code == 429
        banned = api.public("exchangeInfo", symbol=SYMBOL)
        assert banned.status_code == 418
        assert banned.headers["Retry-After"] == "30"
        assert api.public("ping").status_code == 418


def test_signed_weight_is_counted_per_account():
    with SimExchangeThread(SimConfig(rate_limit_weight=20, rate_limit_window=60)) as exchange:
        api = Caller(exchange)
        assert api.signed("GET", "account").status_code == 200
        assert api.signed("GET", "account").status_code == 200
        assert api.signed("GET", "account").status_code == 429
        assert api.public("exchangeInfo", symbol=SYMBOL).status_code == 200
