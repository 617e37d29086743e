"""Every API input passes the same limits: bounded JSON, no control characters, one value per
query parameter unless it is a list. Each is a 4xx in the one error shape, never a 500."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from tests.api.conftest import access_for, assert_error

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def post(api, path, body, headers):
    return api.post(path, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("name", ["bot\x00evil", "bot\x1b[31mred", "tab\x7f"], ids=["nul", "escape", "del"])
def test_a_token_name_with_a_control_character_is_refused_and_nothing_stored(api, owner, name):
    response = post(api, "/api/v1/auth/tokens", {"name": name, "scopes": ["read"]}, access_for(owner))

    error = assert_error(response, 422, "validation_error")
    assert error["details"][0]["field"] == "name"
    assert "Control characters" in error["message"]
    assert not ApiToken.objects.exists()


def test_a_control_character_inside_a_nested_value_is_named_by_its_path(api, owner):
    body = {
        "symbol": "SOLUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "1",
        "client_order_id": "a\x00b",
    }
    error = assert_error(post(api, "/api/v1/orders", body, access_for(owner)), 422, "validation_error")

    assert error["details"][0]["field"] == "client_order_id"


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/auth/tokens", "/api/v1/auth/token"])
def test_json_nested_3000_deep_is_a_400_not_a_server_error(api, owner, path):
    response = api.post(
        path, "[" * 3000 + "]" * 3000, content_type="application/json", headers=access_for(owner)
    )

    error = assert_error(response, 400, "bad_request")
    assert "deeper than" in error["message"]


def test_an_oversized_body_is_a_400(api, owner):
    body = {"name": "x", "scopes": ["read"], "padding": "y" * 70_000}
    error = assert_error(post(api, "/api/v1/auth/tokens", body, access_for(owner)), 400, "bad_request")

    assert "bytes" in error["message"]


def test_brackets_inside_strings_do_not_count_as_nesting(api, owner):
    response = post(api, "/api/v1/auth/tokens", {"name": "[[[[" * 15, "scopes": ["read"]}, access_for(owner))

    assert response.status_code == 201


def test_a_query_parameter_given_twice_is_a_422(api, owner):
    response = api.get("/api/v1/fills?symbol=SOLUSDT&symbol=BTCUSDT", headers=access_for(owner))

    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [{"field": "symbol", "message": "symbol may be given only once."}]


def test_a_control_character_in_a_query_parameter_is_a_422(api, owner):
    response = api.get("/api/v1/fills?symbol=SOL%00USDT", headers=access_for(owner))

    assert assert_error(response, 422, "validation_error")["details"][0]["field"] == "symbol"
