"""Every JSON body is read by a schema that refuses what it does not declare (config/api_input.py
InputSchema): a misspelt field is a 422 naming it, never silently dropped."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import ApiToken
from tests.api.conftest import access_for, assert_error
from trading.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

ORDER = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "price": "100"}
# Every endpoint that reads a JSON body, with a body it would otherwise accept but for one typo.
BODIES = {
    "/api/v1/orders": {**ORDER, "quantitty": "0.5"},
    "/api/v1/auth/token": {"email": "owner@example.com", "password": "pw", "passwrd": "pw"},
    "/api/v1/auth/refresh": {"refresh": "r", "refersh": "r"},
    "/api/v1/auth/revoke": {"token": "t", "tokn": "t"},
    "/api/v1/auth/tokens": {"name": "bot", "scopes": ["read"], "expires": "2030-01-01T00:00:00Z"},
}
TYPO = {
    "/api/v1/orders": "quantitty",
    "/api/v1/auth/token": "passwrd",
    "/api/v1/auth/refresh": "refersh",
    "/api/v1/auth/revoke": "tokn",
    "/api/v1/auth/tokens": "expires",
}


def post(api: Any, path: str, body: Any, headers: dict[str, str]) -> Any:
    return api.post(path, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("path", list(BODIES))
def test_an_unknown_body_field_is_a_validation_error_naming_it(api, owner, path):
    error = assert_error(post(api, path, BODIES[path], access_for(owner)), 422, "validation_error")

    assert [d["field"] for d in error["details"]] == [TYPO[path]]


def test_a_misspelt_quantity_places_no_order(api, owner):
    body = {**ORDER, "quantity": "0.5", "quantitty": "5"}
    assert_error(post(api, "/api/v1/orders", body, access_for(owner)), 422, "validation_error")

    assert not Order.objects.exists()


def test_a_misspelt_token_option_creates_no_token(api, owner):
    post(api, "/api/v1/auth/tokens", BODIES["/api/v1/auth/tokens"], access_for(owner))

    assert not ApiToken.objects.exists()


def test_every_documented_request_body_refuses_unknown_fields(api, db):
    """The OpenAPI schema says so for each body, so no endpoint's schema can slip past InputSchema."""
    schema = api.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    bodies = {
        f"{method.upper()} {path}": operation["requestBody"]["content"]["application/json"]["schema"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }

    assert {"POST /api/v1/orders", "POST /api/v1/auth/token", "POST /api/v1/auth/tokens"} <= set(bodies)
    for name, body in bodies.items():
        refs = [body, *body.get("anyOf", [])]
        resolved = [components[r["$ref"].rsplit("/", 1)[1]] for r in refs if "$ref" in r]
        assert resolved, name
        for component in resolved:
            assert component.get("additionalProperties") is False, name
