"""Orders through the API: paper orders placed against the project's MEXC server over real HTTP."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from accounts.models import IdempotencyKey, Role
from config.errors import BruteError
from tests.api.conftest import access_for, assert_error, pat_for
from trading import services
from trading.exchange.types import OrderBook
from trading.exchanges import public_client, run
from trading.models import Order, Symbol, SymbolStatus
from trading.schemas import OrderIn
from trading.services.orders import OrderTerms

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

ORDERS = "/api/v1/orders"
CENT = Decimal("0.01")


def best(side: str, symbol: str = "SOLUSDT") -> Decimal:
    async def depth(exchange: Any) -> OrderBook:
        return await exchange.depth(symbol, limit=5)

    book = run(public_client, depth)
    return (book.bids if side == "bid" else book.asks)[0].price


def resting_buy(**extra: Any) -> dict[str, Any]:
    """A limit buy a tenth under the best bid: it rests, so it can be listed and cancelled."""
    price = (best("bid") * Decimal("0.9")).quantize(CENT, rounding=ROUND_DOWN)
    return {
        "symbol": "SOLUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.5",
        "price": str(price),
        **extra,
    }


def place(api: Any, headers: dict[str, str], body: dict[str, Any], key: str | None = None) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return api.post(ORDERS, body, content_type="application/json", headers={**headers, **extra})


def test_a_market_buy_fills_at_once_and_shows_money_as_strings(api, owner, synced):
    response = place(
        api, access_for(owner), {"symbol": "solusdt", "side": "BUY", "type": "MARKET", "quote_quantity": "50"}
    )
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "FILLED"
    assert order["mode"] == "paper"
    assert order["source"] == "api"
    assert order["symbol"] == "SOLUSDT"
    assert order["quote_quantity"] == "50"
    assert order["quantity"] is None
    assert isinstance(order["executed_quantity"], str)
    assert Decimal(order["executed_quantity"]) > 0
    assert Decimal(order["cumulative_quote_quantity"]) <= 50
    assert order["is_open"] is False
    row = Order.objects.get(pk=order["id"])
    assert (row.user, row.executed_qty) == (owner, Decimal(order["executed_quantity"]))


def test_a_limit_order_rests_and_can_be_read_listed_and_cancelled(api, owner, synced):
    headers = access_for(owner)
    created = place(api, headers, resting_buy()).json()
    assert created["status"] == "NEW"
    assert created["is_open"] is True

    detail = api.get(f"{ORDERS}/{created['id']}", headers=headers).json()
    assert detail == {**created, "fills": [], "updated_at": detail["updated_at"]}
    listed = api.get(f"{ORDERS}?open=true&symbol=SOLUSDT&side=BUY", headers=headers).json()
    assert [o["id"] for o in listed["items"]] == [created["id"]]

    cancelled = api.delete(f"{ORDERS}/{created['id']}", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELED"
    assert Order.objects.get(pk=created["id"]).status == Order.Status.CANCELED
    error = assert_error(api.delete(f"{ORDERS}/{created['id']}", headers=headers), 409, "conflict")
    assert "already" in error["message"]


def test_cancel_all_cancels_only_the_open_orders_asked_for(api, owner, synced):
    headers = access_for(owner)
    first = place(api, headers, resting_buy()).json()
    second = place(api, headers, resting_buy(quantity="0.3")).json()
    response = api.post(f"{ORDERS}/cancel-all?symbol=XRPUSDT", headers=headers)
    assert response.json() == {"count": 0, "orders": []}

    response = api.post(f"{ORDERS}/cancel-all?symbol=SOLUSDT", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {o["id"] for o in body["orders"]} == {first["id"], second["id"]}
    assert {o["status"] for o in body["orders"]} == {"CANCELED"}


def cancel_all(api: Any, headers: dict[str, str], body: Any = None, query: str = "") -> Any:
    """POST cancel-all with `body` as JSON text (None: no data at all, as most clients send it)."""
    if body is None:
        return api.post(f"{ORDERS}/cancel-all{query}", headers=headers)
    text = body if isinstance(body, str) else json.dumps(body)
    return api.post(f"{ORDERS}/cancel-all{query}", text, content_type="application/json", headers=headers)


def open_ids(owner: Any) -> set[int]:
    return set(Order.objects.filter(user=owner, status=Order.Status.NEW).values_list("pk", flat=True))


def test_cancel_all_takes_the_symbol_from_a_json_body(api, owner, synced):
    headers = access_for(owner)
    ids = {place(api, headers, resting_buy()).json()["id"] for _ in range(2)}

    assert cancel_all(api, headers, {"symbol": "XRPUSDT"}).json() == {"count": 0, "orders": []}
    assert open_ids(owner) == ids
    body = cancel_all(api, headers, {"symbol": "solusdt"}).json()
    assert {o["id"] for o in body["orders"]} == ids
    assert open_ids(owner) == set()


def test_cancel_all_with_the_same_symbol_in_query_and_body_cancels_it(api, owner, synced):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    response = cancel_all(api, headers, {"symbol": "SolUsdt"}, query="?symbol=SOLUSDT")

    assert response.status_code == 200, response.content
    assert [o["id"] for o in response.json()["orders"]] == [order["id"]]


def test_cancel_all_with_different_symbols_in_query_and_body_is_refused(api, owner, synced):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    for query, body in (
        ("?symbol=SOLUSDT", {"symbol": "XRPUSDT"}),
        ("?symbol=XRPUSDT", {"symbol": "SOLUSDT"}),
    ):
        error = assert_error(cancel_all(api, headers, body, query=query), 422, "validation_error")
        assert [d["field"] for d in error["details"]] == ["symbol"]
        assert "SOLUSDT" in error["message"]
        assert "XRPUSDT" in error["message"]
    assert open_ids(owner) == {order["id"]}


@pytest.mark.parametrize(
    "body", [None, "", "  \n", "{}", "null"], ids=["no-data", "empty", "blank", "{}", "null"]
)
def test_cancel_all_with_an_empty_body_cancels_every_open_order(api, owner, synced, body):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    response = cancel_all(api, headers, body)

    assert response.status_code == 200, response.content
    assert [o["id"] for o in response.json()["orders"]] == [order["id"]]
    assert open_ids(owner) == set()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"symbol": None}, "symbol"), ({"symbol": ""}, "symbol"), ({"symbl": "SOLUSDT"}, "symbl"), ("[]", "")],
    ids=["null", "empty", "typo", "not-an-object"],
)
def test_a_cancel_all_body_that_names_no_market_cancels_nothing(api, owner, synced, body, field):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    error = assert_error(cancel_all(api, headers, body), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [field]
    assert open_ids(owner) == {order["id"]}


@pytest.mark.parametrize("query", ["?symbl=SOLUSDT", "?symbol=SOLUSDT&sid=BUY"])
def test_cancel_all_with_a_query_parameter_it_does_not_take_cancels_nothing(api, owner, synced, query):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    error = assert_error(cancel_all(api, headers, query=query), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [query.rsplit("&", 1)[-1].lstrip("?").split("=")[0]]
    assert open_ids(owner) == {order["id"]}


def test_cancel_all_on_an_unknown_symbol_in_the_body_is_refused(api, owner, synced):
    headers = access_for(owner)
    order = place(api, headers, resting_buy()).json()

    assert_error(cancel_all(api, headers, {"symbol": "NOPEUSDT"}), 404, "unknown_symbol")
    assert open_ids(owner) == {order["id"]}


def test_the_average_price_is_cut_to_the_price_precision_plus_four_decimals(api, owner, synced):
    headers = access_for(owner)
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "7"}
    order = place(api, headers, body).json()
    row = Order.objects.get(pk=order["id"])
    precision = Symbol.objects.get(symbol="SOLUSDT").price_precision
    step = Decimal(1).scaleb(-(precision + 4))

    assert row.avg_price is not None
    assert Decimal(order["average_price"]) == row.avg_price.quantize(step, rounding=ROUND_DOWN)
    assert -Decimal(order["average_price"]).as_tuple().exponent <= precision + 4
    # A quotient that does not end is cut, never rounded up, wherever the order is shown.
    Order.objects.filter(pk=row.pk).update(avg_price=Decimal("100.999999999999999999"))
    shown = "100." + "9" * (precision + 4)
    assert api.get(f"{ORDERS}/{row.pk}", headers=headers).json()["average_price"] == shown
    assert api.get(f"{ORDERS}?symbol=SOLUSDT", headers=headers).json()["items"][0]["average_price"] == shown
    described = api.get("/api/v1/openapi.json").json()["components"]["schemas"]["OrderOut"]
    assert "price_precision plus 4 decimals" in described["properties"]["average_price"]["description"]


def test_a_market_order_has_its_fills_on_the_order_and_in_the_fills_list(api, owner, synced):
    headers = access_for(owner)
    order = place(
        api, headers, {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.2"}
    ).json()
    detail = api.get(f"{ORDERS}/{order['id']}", headers=headers).json()
    assert detail["fills"]
    assert sum(Decimal(f["quantity"]) for f in detail["fills"]) == Decimal("0.2")
    fill = detail["fills"][0]
    assert fill["order_id"] == order["id"]
    assert (fill["symbol"], fill["side"], fill["commission_asset"]) == ("SOLUSDT", "BUY", "SOL")
    listed = api.get(f"/api/v1/fills?order_id={order['id']}", headers=headers).json()
    assert [f["id"] for f in listed["items"]] == [f["id"] for f in detail["fills"]]
    assert listed["count"] == len(detail["fills"])


def test_an_order_body_has_exactly_the_keywords_order_place_takes():
    # The endpoint passes the validated body to order_place as keywords: a field the service does
    # not take would fail every order, one it takes but the body lacks could never be sent.
    terms = OrderTerms.__required_keys__ | OrderTerms.__optional_keys__
    assert set(OrderIn.model_fields) == terms | {"client_order_id"}


# ---- idempotency ----------------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_return_the_same_order_once(api, owner, synced):
    headers = access_for(owner)
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "25"}
    first = place(api, headers, body, key="order-1")
    second = place(api, headers, body, key="order-1")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Order.objects.filter(user=owner).count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(api, owner, synced):
    headers = access_for(owner)
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "25"}
    place(api, headers, body, key="order-1")
    error = assert_error(
        place(api, headers, {**body, "quote_quantity": "26"}, key="order-1"), 422, "idempotency_key_reused"
    )
    assert "Idempotency-Key" in error["message"]
    assert Order.objects.filter(user=owner).count() == 1


def test_a_refused_order_does_not_use_up_its_idempotency_key(api, owner, synced):
    headers = access_for(owner)
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "999999"}
    assert_error(place(api, headers, body, key="k"), 400, "insufficient_balance")
    assert IdempotencyKey.objects.count() == 0
    assert place(api, headers, {**body, "quote_quantity": "20"}, key="k").status_code == 201


def test_a_client_order_id_sent_twice_returns_the_first_order(api, owner, synced):
    headers = access_for(owner)
    body = resting_buy(client_order_id="my-order-1")
    first, second = place(api, headers, body).json(), place(api, headers, body).json()
    assert first["id"] == second["id"]
    assert first["client_order_id"] == "my-order-1"
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [{"symbol": "BTCUSDT", "side": "SELL"}, {"quantity": "0.7"}, {"type": "MARKET", "price": None}],
    ids=["other-symbol-and-side", "other-quantity", "other-type"],
)
def test_a_client_order_id_reused_with_other_parameters_is_a_conflict(api, owner, synced, change):
    headers = access_for(owner)
    body = resting_buy(client_order_id="my-order-2")
    first = place(api, headers, body)
    again = place(api, headers, {**body, **change})

    assert first.status_code == 201
    error = assert_error(again, 409, "client_order_id_reused")
    assert "other parameters" in error["message"]
    assert Order.objects.count() == 1


def test_a_retry_with_the_same_amounts_written_differently_replays(api, owner, synced):
    headers = access_for(owner)
    body = resting_buy(client_order_id="my-order-3")
    first = place(api, headers, body).json()
    again = place(api, headers, {**body, "quantity": "0.50", "price": body["price"] + "0"})

    assert again.status_code == 201
    assert again.json()["id"] == first["id"]


# ---- validation and refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"side": "HOLD"}, "side"),
        ({"type": "STOP"}, "type"),
        ({"quantity": "1e3"}, "quantity"),
        ({"quantity": 0.5}, "quantity"),
        ({"price": "-1"}, "price"),
        ({"quantity": "0"}, "quantity"),
        ({"price": "0.000"}, "price"),
        ({"quote_quantity": "0"}, "quote_quantity"),
        ({"symbol": "SOL/USDT"}, "symbol"),
        ({"client_order_id": "no spaces allowed"}, "client_order_id"),
    ],
)
def test_malformed_input_is_a_validation_error_naming_the_field(api, owner, change, field):
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5", "price": "100", **change}
    error = assert_error(place(api, access_for(owner), body), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [field]
    assert Order.objects.count() == 0


def test_a_negative_amount_is_refused_in_words_not_with_the_regex(api, owner):
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "-1", "price": "100"}
    error = assert_error(place(api, access_for(owner), body), 422, "validation_error")
    assert error["details"] == [{"field": "quantity", "message": 'Must be positive: "-1" is below zero'}]


LIMIT_TERMS = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5", "price": "100"}
DECIMALS_AT_FAULT = "an amount has at most 18; the symbol's price_precision or quantity_precision"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"quantity": "1e3"}, "quantity", 'Exponent notation is not accepted: write "1e3" as "1000"'),
        ({"price": "1.5E+2"}, "price", 'Exponent notation is not accepted: write "1.5E+2" as "150"'),
        ({"price": "2.5e-3"}, "price", 'Exponent notation is not accepted: write "2.5e-3" as "0.0025"'),
        (
            {"price": "1e-30"},
            "price",
            f'Exponent notation is not accepted, and "1e-30" has 30 decimals: {DECIMALS_AT_FAULT}',
        ),
        (
            {"quantity": "0.1234567890123456789"},
            "quantity",
            f'"0.1234567890123456789" has 19 decimals: {DECIMALS_AT_FAULT}',
        ),
        (
            {"quantity": "1e999999999"},
            "quantity",
            'Exponent notation is not accepted, and "1e999999999" has 1000000000 digits before the decimal '
            "point: an amount has at most 24",
        ),
        ({"quantity": "1234567890123456789012345"}, "quantity", "has 25 digits before the decimal point"),
        ({"price": ".5"}, "price", 'Write ".5" as "0.5": digits, at most one decimal point, no sign'),
        ({"price": "+100"}, "price", 'Write "+100" as "100"'),
        ({"quantity": "0.000"}, "quantity", "Must be more than zero"),
        ({"quantity": "-1e3"}, "quantity", 'Must be positive: "-1e3" is below zero'),
        (
            {"quantity": "1,000"},
            "quantity",
            'Must be a positive decimal number written as a string, e.g. "0.25"',
        ),
    ],
    ids=[
        "exponent",
        "exponent-capital",
        "exponent-negative",
        "exponent-too-fine",
        "too-many-decimals",
        "exponent-huge",
        "too-many-digits",
        "no-leading-zero",
        "sign",
        "zero",
        "negative-exponent",
        "separator",
    ],
)
def test_an_amount_that_is_not_written_as_one_says_what_is_wrong_with_it(api, owner, change, field, words):
    error = assert_error(place(api, access_for(owner), {**LIMIT_TERMS, **change}), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [field]
    assert words in error["details"][0]["message"]
    assert not Order.objects.exists()


def test_a_zero_quote_amount_names_its_field(api, owner):
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "0"}
    error = assert_error(place(api, access_for(owner), body), 422, "validation_error")
    assert error["details"] == [{"field": "quote_quantity", "message": "Must be more than zero"}]


def test_every_refused_value_answers_422_whichever_rule_refuses_it(api, owner, synced):
    """README "API errors": the form of an amount, a zero amount, decimal places and minimums alike."""
    limit = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT"}
    bodies = {
        "validation_error": {**limit, "quantity": "0", "price": "100"},
        "too_many_decimals": {**limit, "quantity": "0.001", "price": "100"},
        "below_min_notional": {**limit, "quantity": "0.01", "price": "10"},
    }
    for code, body in bodies.items():
        assert_error(place(api, access_for(owner), body), 422, code)


@pytest.mark.parametrize(
    ("terms", "fields"),
    [
        ({"type": "LIMIT", "quantity": "0.5"}, ["price"]),
        ({"type": "LIMIT_MAKER", "quantity": "0.5"}, ["price"]),
        ({"type": "LIMIT", "price": "100"}, ["quantity"]),
        ({"type": "LIMIT"}, ["quantity", "price"]),
        ({"type": "LIMIT", "quantity": "0.5", "price": "100", "quote_quantity": "50"}, ["quote_quantity"]),
        ({"type": "MARKET"}, ["quantity", "quote_quantity"]),
        ({"type": "MARKET", "quantity": "0.5", "quote_quantity": "50"}, ["quantity", "quote_quantity"]),
        ({"type": "MARKET", "quote_quantity": "50", "price": "100"}, ["price"]),
        ({"type": "MARKET", "side": "SELL", "quote_quantity": "50"}, ["quantity", "quote_quantity"]),
    ],
    ids=[
        "limit-no-price",
        "limit-maker-no-price",
        "limit-no-quantity",
        "limit-no-amounts",
        "limit-with-quote",
        "market-no-amount",
        "market-both-amounts",
        "market-with-price",
        "market-sell-by-quote",
    ],
)
def test_an_order_of_the_wrong_shape_names_its_fields_with_the_services_words(
    api, owner, synced, terms, fields
):
    body = {"symbol": "SOLUSDT", "side": "BUY", **terms}
    with pytest.raises(BruteError) as refused:
        services.order_check(user=owner, **body)

    error = assert_error(place(api, access_for(owner), body), 422, "validation_error")

    assert error["message"] == refused.value.message
    assert error["details"] == [{"field": field, "message": refused.value.message} for field in fields]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("terms", "words"),
    [
        ({"type": "LIMIT", "quantity": "0.5"}, "A LIMIT order needs a price"),
        ({"type": "LIMIT_MAKER", "price": "100"}, "A LIMIT_MAKER order needs a quantity"),
        ({"type": "LIMIT"}, "A LIMIT order needs a quantity and a price"),
        (
            {"type": "LIMIT", "quantity": "0.5", "price": "100", "quote_quantity": "50"},
            "A LIMIT order takes no quote amount (quote_quantity)",
        ),
        (
            {"type": "LIMIT", "quantity": "0.5", "quote_quantity": "50"},
            "A LIMIT order needs a price and takes no quote amount (quote_quantity)",
        ),
        ({"type": "MARKET"}, "A market order needs a quantity or a quote amount (quote_quantity)"),
        (
            {"type": "MARKET", "quantity": "0.5", "quote_quantity": "50"},
            "A market order takes a quantity or a quote amount (quote_quantity), not both",
        ),
    ],
    ids=[
        "no-price",
        "no-quantity",
        "no-amounts",
        "extra-quote",
        "no-price-extra-quote",
        "market-none",
        "market-both",
    ],
)
def test_an_order_of_the_wrong_shape_says_what_is_wrong_with_it(api, owner, synced, terms, words):
    body = {"symbol": "SOLUSDT", "side": "BUY", **terms}

    error = assert_error(place(api, access_for(owner), body), 422, "validation_error")

    assert error["message"] == words
    assert {d["message"] for d in error["details"]} == {words}


def test_a_missing_field_is_named(api, owner):
    error = assert_error(
        place(api, access_for(owner), {"side": "BUY", "type": "MARKET"}), 422, "validation_error"
    )
    assert "symbol" in [d["field"] for d in error["details"]]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "10"},
            404,
            "unknown_symbol",
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "10"},
            400,
            "api_trading_disabled",
        ),
        ({"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5"}, 422, "validation_error"),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "0"},
            422,
            "validation_error",
        ),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "100"},
            422,
            "too_many_decimals",
        ),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "10"},
            422,
            "below_min_notional",
        ),
        (
            {"symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": "5"},
            400,
            "insufficient_balance",
        ),
    ],
)
def test_service_refusals_pass_through_with_their_code(api, owner, synced, body, status, code):
    assert_error(place(api, access_for(owner), body), status, code)
    assert not Order.objects.exclude(status=Order.Status.REJECTED).exists()


# ---- who may do what ------------------------------------------------------------------------------


def test_a_viewer_cannot_place_or_cancel_orders(api, viewer, owner, synced):
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "10"}
    # A trade token kept from before the viewer was demoted (a viewer can no longer create one).
    viewer.role = Role.TRADER
    viewer.save(update_fields=["role"])
    kept = pat_for(viewer, "trade")
    viewer.role = Role.VIEWER
    viewer.save(update_fields=["role"])
    for headers in (access_for(viewer), kept):
        assert_error(place(api, headers, body, key="v-1"), 403, "forbidden")
        assert_error(api.post(f"{ORDERS}/cancel-all", headers=headers), 403, "forbidden")
        assert_error(api.delete(f"{ORDERS}/1", headers=headers), 403, "forbidden")
    assert Order.objects.count() == 0
    assert IdempotencyKey.objects.count() == 0
    assert api.get(ORDERS, headers=access_for(viewer)).json() == {"items": [], "count": 0, "next": None}


def test_a_read_token_cannot_trade(api, owner, synced):
    body = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "10"}
    error = assert_error(place(api, pat_for(owner, "read"), body), 403, "forbidden")
    assert "trade" in error["message"]


def test_a_read_token_is_refused_before_its_body_is_read(api, owner):
    headers = pat_for(owner, "read")
    for body in ({"side": "HOLD"}, {"symbol": "SOLUSDT", "quantity": "-1"}):
        error = assert_error(place(api, headers, body), 403, "forbidden")
        assert "trade" in error["message"]
    assert IdempotencyKey.objects.count() == 0


def test_someone_elses_order_is_404_like_a_missing_one(api, owner, other, operator, synced):
    order = place(api, access_for(owner), resting_buy()).json()
    for who in (other, operator):
        headers = access_for(who)
        error = assert_error(api.get(f"{ORDERS}/{order['id']}", headers=headers), 404, "not_found")
        assert_error(api.delete(f"{ORDERS}/{order['id']}", headers=headers), 404, "not_found")
        assert api.get(ORDERS, headers=headers).json()["count"] == 0
        assert api.post(f"{ORDERS}/cancel-all", headers=headers).json()["count"] == 0
        assert api.get(f"/api/v1/fills?order_id={order['id']}", headers=headers).json()["count"] == 0
    missing = assert_error(api.get(f"{ORDERS}/999999", headers=access_for(other)), 404, "not_found")
    assert error == missing
    assert Order.objects.get(pk=order["id"]).status == Order.Status.NEW


# ---- listing --------------------------------------------------------------------------------------


def seed_orders(user: Any, n: int) -> list[Order]:
    return [
        Order.objects.create(
            user=user,
            mode="paper",
            symbol="SOLUSDT" if i % 2 else "XRPUSDT",
            side="BUY" if i % 3 else "SELL",
            type="LIMIT",
            client_order_id=f"seed{user.pk}-{i}",
            status="FILLED" if i % 2 else "NEW",
            quantity=Decimal("1.5"),
            price=Decimal("100.10"),
        )
        for i in range(n)
    ]


def test_the_order_list_is_paginated_newest_first(api, owner, other):
    rows = seed_orders(owner, 7)
    seed_orders(other, 3)
    headers = access_for(owner)
    first = api.get(f"{ORDERS}?limit=3", headers=headers).json()
    assert first["count"] == 7
    assert [o["id"] for o in first["items"]] == [r.pk for r in reversed(rows)][:3]
    assert first["next"] == "http://testserver/api/v1/orders?limit=3&offset=3"
    assert first["items"][0]["price"] == "100.1"
    assert first["items"][0]["quantity"] == "1.5"
    last = api.get(f"{ORDERS}?limit=3&offset=6", headers=headers).json()
    assert (len(last["items"]), last["next"]) == (1, None)
    beyond = api.get(f"{ORDERS}?offset=1000000000000", headers=headers).json()
    assert beyond == {"items": [], "count": 7, "next": None}


def test_the_order_list_filters_by_status_symbol_side_and_open(api, owner):
    Symbol.objects.create(symbol="XRPUSDT", base_asset="XRP", quote_asset="USDT")
    rows = seed_orders(owner, 8)
    headers = access_for(owner)

    def ids(query: str) -> set[int]:
        return {o["id"] for o in api.get(f"{ORDERS}?{query}", headers=headers).json()["items"]}

    assert ids("status=FILLED") == {r.pk for r in rows if r.status == "FILLED"}
    assert ids("symbol=xrpusdt") == {r.pk for r in rows if r.symbol == "XRPUSDT"}
    assert ids("side=SELL") == {r.pk for r in rows if r.side == "SELL"}
    assert ids("open=true") == {r.pk for r in rows if r.status == "NEW"}
    assert ids("open=true&status=FILLED") == set()
    assert ids("mode=live") == set()
    error = assert_error(api.get(f"{ORDERS}?status=DONE", headers=headers), 422, "validation_error")
    assert error["details"][0]["field"] == "status"


def test_the_order_list_of_a_symbol_mexc_does_not_list_is_unknown_symbol_not_empty(api, owner):
    Symbol.objects.create(symbol="XRPUSDT", base_asset="XRP", quote_asset="USDT")
    seed_orders(owner, 2)
    headers = access_for(owner)

    error = assert_error(api.get(f"{ORDERS}?symbol=NOPE", headers=headers), 404, "unknown_symbol")

    assert "NOPE" in error["message"]
    assert api.get(f"{ORDERS}?symbol=xrpusdt", headers=headers).json()["count"] == 1
    assert api.get(f"{ORDERS}?symbol=", headers=headers).json()["count"] == 2


def test_the_orders_of_a_symbol_mexc_stopped_listing_are_still_listed(api, owner):
    Symbol.objects.create(symbol="XRPUSDT", base_asset="XRP", quote_asset="USDT", status=SymbolStatus.OFFLINE)
    seed_orders(owner, 2)

    assert api.get(f"{ORDERS}?symbol=XRPUSDT", headers=access_for(owner)).json()["count"] == 1


def test_an_empty_symbol_never_cancels_every_order(client, owner, synced):
    from trading import services

    services.order_place(user=owner, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price="50")
    response = client.post("/api/v1/orders/cancel-all?symbol=", headers=access_for(owner))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert Order.objects.filter(user=owner, status="NEW").count() == 1


def test_cancel_all_on_a_symbol_mexc_does_not_list_is_refused_and_cancels_nothing(api, owner, synced):
    headers = access_for(owner)
    resting = place(api, headers, resting_buy()).json()

    assert_error(api.post(f"{ORDERS}/cancel-all?symbol=NOPEUSDT", headers=headers), 404, "unknown_symbol")

    assert api.get(f"{ORDERS}/{resting['id']}", headers=headers).json()["status"] == "NEW"
