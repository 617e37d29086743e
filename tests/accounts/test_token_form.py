"""The API token form's bad input: a message in words, 400, and no token made."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"name": "", "scopes": ["read"]}, "Give the token a name"),
        ({"name": "bot", "scopes": []}, "Choose at least one scope."),
        ({"name": "bot", "scopes": ["read"], "expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": "bot", "scopes": ["read"], "expires_in_days": "abc"}, "Enter a whole number."),
    ],
)
def test_a_bad_token_request_is_refused_in_words(client, form, words):
    client.force_login(UserFactory())
    response = client.post("/accounts/tokens/", form)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_viewer_is_offered_only_the_read_scope_and_a_trade_token_is_refused(client):
    client.force_login(UserFactory(role=Role.VIEWER))
    page = client.get("/accounts/tokens/").content.decode()
    assert 'value="read"' in page
    assert 'value="trade"' not in page

    response = client.post("/accounts/tokens/", {"name": "bot", "scopes": ["read", "trade"]})
    assert response.status_code == 400
    assert "cannot have the trade scope" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_viewer_cannot_create_a_trade_token_through_the_api(client):
    client.force_login(UserFactory(role=Role.VIEWER))
    response = client.post(
        "/api/v1/auth/tokens", {"name": "bot", "scopes": ["trade"]}, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "cannot have the trade scope" in error["message"]
    assert error["details"][0]["field"] == "scopes"
    assert not ApiToken.objects.exists()
    read = client.post(
        "/api/v1/auth/tokens", {"name": "bot", "scopes": ["read"]}, content_type="application/json"
    )
    assert read.status_code == 201


def test_a_trader_is_offered_and_given_the_trade_scope(client):
    client.force_login(UserFactory())
    assert 'value="trade"' in client.get("/accounts/tokens/").content.decode()
    response = client.post("/accounts/tokens/", {"name": "bot", "scopes": ["read", "trade"]})
    assert response.status_code == 302
    assert ApiToken.objects.get().scope_list == ["read", "trade"]
