"""Scopes, roles and scoped fetches, through the test API built with the project's machinery."""

from __future__ import annotations

import pytest

from accounts.models import Role
from accounts.tokens import api_token_create
from tests.api.conftest import access_for, assert_error, pat_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

ORDER = {"symbol": "BTCUSDT", "qty": 1}


def place(api, headers, **extra):
    return api.post("/t/orders", ORDER, content_type="application/json", headers={**headers, **extra})


def test_a_trader_with_a_trade_token_may_trade(api, owner):
    assert place(api, pat_for(owner, "trade")).status_code == 201


def test_a_read_token_may_not_trade(api, owner):
    error = assert_error(place(api, pat_for(owner, "read")), 403, "forbidden")
    assert "trade" in error["message"]


def test_a_viewer_may_not_trade_even_with_a_trade_token(api, owner):
    """A trade token made while its user could trade, kept after the user became a viewer."""
    headers = pat_for(owner, "trade")
    owner.role = Role.VIEWER
    owner.save(update_fields=["role"])

    error = assert_error(place(api, headers), 403, "forbidden")
    assert "role" in error["message"]
    assert_error(place(api, access_for(owner)), 403, "forbidden")


def test_a_viewer_may_read(api, viewer):
    assert api.get("/t/items", headers=pat_for(viewer, "read")).status_code == 200


def test_a_trade_token_may_also_read(api, owner):
    assert api.get("/t/items", headers=pat_for(owner, "trade")).status_code == 200


def test_an_operator_may_trade(api, operator):
    assert place(api, access_for(operator)).status_code == 201


def test_the_owner_sees_their_object(api, owner):
    token, _ = api_token_create(user=owner, name="mine", scopes=["read"])
    assert api.get(f"/t/owned/{token.pk}", headers=access_for(owner)).json() == {"id": token.pk}


def test_someone_elses_object_is_404_not_403(api, owner, other, operator):
    token, _ = api_token_create(user=other, name="theirs", scopes=["read"])
    for who in (owner, operator):
        error = assert_error(api.get(f"/t/owned/{token.pk}", headers=access_for(who)), 404, "not_found")
    missing = assert_error(api.get("/t/owned/999999", headers=access_for(owner)), 404, "not_found")
    assert error == missing


def test_pagination_has_one_envelope_with_a_next_link(api, owner):
    headers = access_for(owner)
    first = api.get("/t/items?limit=3", headers=headers).json()
    assert first["count"] == 7
    assert [item["n"] for item in first["items"]] == [0, 1, 2]
    assert first["next"] == "http://testserver/t/items?limit=3&offset=3"
    last = api.get("/t/items?limit=3&offset=6", headers=headers).json()
    assert last == {"items": [{"n": 6}], "count": 7, "next": None}


def test_pagination_bounds_are_validated(api, owner):
    error = assert_error(api.get("/t/items?limit=100000", headers=access_for(owner)), 422, "validation_error")
    assert error["details"][0]["field"] == "limit"
