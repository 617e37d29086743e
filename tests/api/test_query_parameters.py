"""Every API endpoint refuses a query parameter it does not declare (its own, and on a list the
pagination's `limit` and `offset`): 422 `validation_error` naming each one, the way a body field it
does not take is refused, so a misspelt filter never reads as "no filter". The OpenAPI and docs
pages are not endpoints and still answer."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from tests.api.conftest import access_for, assert_error, pat_for
from trading.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

ORDER = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/api/v1/orders?symbl=SOLUSDT", "symbl"),
        ("/api/v1/orders?cursor=abc", "cursor"),
        ("/api/v1/orders?open=true&page=2", "page"),
        ("/api/v1/fills?order=3", "order"),
        ("/api/v1/symbols?quote=USDT&serach=SOL", "serach"),
        ("/api/v1/auth/tokens?cursor=abc", "cursor"),
        ("/api/v1/markets/SOLUSDT/klines?intervall=1h", "intervall"),
        ("/api/v1/portfolio?point=5", "point"),
        ("/api/v1/balances?asset=USDT", "asset"),
        ("/api/v1/me?format=json", "format"),
        ("/api/v1/orders/1?fills=false", "fills"),
        ("/t/items?cursor=abc", "cursor"),
    ],
)
def test_a_query_parameter_the_endpoint_does_not_declare_is_a_422_naming_it(api, owner, path, unknown):
    error = assert_error(api.get(path, headers=access_for(owner)), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [unknown]
    assert unknown in error["message"]
    assert f"{unknown} is not a query parameter of this endpoint" in error["details"][0]["message"]


def test_each_unknown_parameter_is_named_and_the_declared_ones_are_listed(api, owner):
    response = api.get("/api/v1/fills?symbl=SOLUSDT&limit=5&cursor=abc", headers=access_for(owner))

    error = assert_error(response, 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["symbl", "cursor"]
    assert error["details"][0]["message"] == (
        "symbl is not a query parameter of this endpoint; it takes symbol, order_id, limit, offset."
    )
    assert error["message"] == (
        "Unknown query parameters symbl, cursor: this endpoint does not take symbl, cursor; "
        "it takes symbol, order_id, limit, offset."
    )


def test_an_endpoint_without_query_parameters_says_it_takes_none(api, owner):
    error = assert_error(
        api.get("/api/v1/balances?mode=paper", headers=access_for(owner)), 422, "validation_error"
    )

    assert error["details"] == [
        {"field": "mode", "message": "mode is not a query parameter of this endpoint; it takes none."}
    ]


def test_the_declared_parameters_including_the_pagination_are_taken(api, owner):
    response = api.get(
        "/api/v1/orders?symbol=&open=true&side=BUY&mode=paper&limit=5&offset=0", headers=access_for(owner)
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"items": [], "count": 0, "next": None}
    assert api.get("/t/items?limit=2&offset=2", headers=access_for(owner)).json()["items"] == [
        {"n": 2},
        {"n": 3},
    ]


def test_a_write_with_an_unknown_query_parameter_does_nothing(api, owner):
    response = api.post(
        "/api/v1/orders?dry_run=true", ORDER, content_type="application/json", headers=access_for(owner)
    )

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == "dry_run"
    assert not Order.objects.exists()


def test_a_token_is_not_created_when_the_query_holds_an_unknown_parameter(api, owner):
    body = {"name": "bot", "scopes": ["read"]}
    response = api.post(
        "/api/v1/auth/tokens?expires=1d", body, content_type="application/json", headers=access_for(owner)
    )

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == "expires"
    assert not ApiToken.objects.exists()


def test_an_async_endpoint_refuses_them_too(api, owner):
    response = api.post(
        "/t/async-orders?x=1",
        {"symbol": "SOLUSDT", "qty": 1},
        content_type="application/json",
        headers=access_for(owner),
    )

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == "x"


def test_credentials_and_scope_are_checked_before_the_query(api, owner):
    assert_error(api.get("/api/v1/orders?symbl=SOLUSDT"), 401, "not_authenticated")

    response = api.post(
        "/api/v1/orders?dry_run=true", ORDER, content_type="application/json", headers=pat_for(owner, "read")
    )

    assert_error(response, 403, "forbidden")


def test_an_unknown_query_parameter_is_named_before_a_bad_body(api, owner):
    response = api.post(
        "/api/v1/orders?dry_run=true",
        {"symbol": "SOLUSDT"},
        content_type="application/json",
        headers=access_for(owner),
    )

    assert [d["field"] for d in assert_error(response, 422, "validation_error")["details"]] == ["dry_run"]


def test_the_openapi_and_docs_pages_still_answer_and_say_so(api):
    schema = api.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert "a query parameter the endpoint does not take" in schema.json()["info"]["description"]
    docs = api.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"openapi.json" in docs.content
