from __future__ import annotations

import time

import pytest

from tests.simexchange.helpers import Caller, sign
from trading.simexchange import auth

VECTOR_SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"


def test_the_documented_signature_vector_holds():
    text = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"
    assert (
        auth.sign(VECTOR_SECRET, text) == "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
    )


def test_query_and_body_are_concatenated_without_a_separator():
    text, signature = auth.signed_text(
        "symbol=BTCUSDT&side=BUY&type=LIMIT&signature=abc",
        "quantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
    )
    assert signature == "abc"
    assert (
        auth.sign(VECTOR_SECRET, text) == "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"
    )


def test_a_bad_signature_is_700002(sim_exchange):
    response = Caller(sim_exchange).signed("GET", "account", signature="0" * 64)
    assert response.status_code == 400
    assert response.json() == {"code": 700002, "msg": "Signature for this request is not valid."}


def test_a_missing_signature_is_700004(sim_exchange):
    response = Caller(sim_exchange).signed("GET", "account", signature="")
    assert response.status_code == 400
    assert response.json()["code"] == 700004


def test_a_stale_timestamp_is_700003(sim_exchange):
    response = Caller(sim_exchange).signed("GET", "account", timestamp=int(time.time() * 1000) - 10_000)
    assert response.status_code == 400
    assert response.json() == {
        "code": 700003,
        "msg": "Timestamp for this request is outside of the recvWindow.",
    }


def test_a_clock_more_than_a_second_ahead_is_700003(sim_exchange):
    response = Caller(sim_exchange).signed("GET", "account", timestamp=int(time.time() * 1000) + 5_000)
    assert response.json()["code"] == 700003


def test_a_recv_window_above_60000_is_700005(sim_exchange):
    response = Caller(sim_exchange).signed("GET", "account", {"recvWindow": 60001})
    assert response.json() == {"code": 700005, "msg": "recvWindow must less than 60000"}


def test_a_larger_recv_window_accepts_an_older_timestamp(sim_exchange):
    old = int(time.time() * 1000) - 20_000
    response = Caller(sim_exchange).signed("GET", "account", {"recvWindow": 60000}, timestamp=old)
    assert response.status_code == 200


def test_an_unknown_key_is_10072(sim_exchange):
    caller = Caller(sim_exchange, key="mx0UnknownKey12345", secret="0" * 32)
    assert caller.signed("GET", "account").json()["code"] == 10072


def test_a_malformed_key_is_700001(sim_exchange):
    caller = Caller(sim_exchange, key="not-a-key", secret="0" * 32)
    assert caller.signed("GET", "account").json()["code"] == 700001


def test_a_missing_key_header_is_refused(sim_exchange):
    response = Caller(sim_exchange).http.get("/api/v3/account", params={"timestamp": 1, "signature": "ab"})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "msg": "api key required"}


def test_a_key_without_the_permission_is_700007(sim_exchange):
    sim_exchange.add_api_key("mx0ReadOnlyKey0001", "1" * 32, frozenset({"SPOT_ACCOUNT_READ"}))
    caller = Caller(sim_exchange, key="mx0ReadOnlyKey0001", secret="1" * 32)
    assert caller.signed("GET", "account").status_code == 200
    refused = caller.order(symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price="100")
    assert refused.json() == {"code": 700007, "msg": "No permission to access the endpoint."}


def test_the_signature_is_checked_before_the_parameters(sim_exchange):
    response = Caller(sim_exchange).signed("POST", "order", {"symbol": "NOPE"}, signature="f" * 64)
    assert response.json()["code"] == 700002


def test_parameters_may_be_split_between_query_and_body(sim_exchange):
    caller = Caller(sim_exchange)
    timestamp = int(time.time() * 1000)
    query = "symbol=SOLUSDT&side=BUY&type=LIMIT"
    body = f"quantity=0.5&price=100&timestamp={timestamp}"
    url = f"/api/v3/order?{query}&signature={sign(caller.secret, query + body)}"
    headers = {"X-MEXC-APIKEY": caller.key, "Content-Type": "application/x-www-form-urlencoded"}
    response = caller.http.post(url, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["origQty"] == "0.5"


def test_uppercase_escapes_are_signed_as_sent(sim_exchange):
    caller = Caller(sim_exchange)
    response = caller.signed("DELETE", "openOrders", {"symbol": "SOLUSDT,XRPUSDT"})
    assert "%2C" in str(response.request.url)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("path", ["order", "openOrders", "myTrades", "tradeFee", "userDataStream"])
def test_every_signed_endpoint_wants_a_signature(sim_exchange, path):
    response = Caller(sim_exchange).signed("GET", path, {"symbol": "SOLUSDT"}, signature="")
    assert response.json()["code"] == 700004
