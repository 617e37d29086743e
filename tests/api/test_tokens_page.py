"""The settings page for personal API tokens (the site's real URLconf)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiToken
from accounts.tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_it_needs_a_login(client, db):
    response = client.get("/accounts/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_it_creates_a_token_and_shows_the_secret_once(browser, owner):
    response = browser.post(
        "/accounts/tokens/", {"name": "bot", "scopes": ["read", "trade"], "expires_in_days": "30"}
    )
    # Post/Redirect/Get: the answer is a redirect to the page itself, the secret nowhere in it.
    assert response.status_code == 302
    assert response["Location"] == "/accounts/tokens/"
    token = ApiToken.objects.get(user=owner)
    assert token.scope_list == ["read", "trade"]
    assert token.expires_at is not None
    shown = browser.get("/accounts/tokens/")
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    secret = shown.context["created"]["secret"]
    assert secret.startswith("brute_pat_")
    assert token.hint.startswith(secret[: len(token.hint)])
    page = shown.content.decode()
    assert secret in page
    assert "New token “bot”" in page
    # A reload is a GET: it neither posts the form again nor shows the secret a second time.
    again = browser.get("/accounts/tokens/")
    assert again.status_code == 200
    assert secret not in again.content.decode()
    assert 'id="new-token"' not in again.content.decode()
    assert token.hint in again.content.decode()
    assert ApiToken.objects.filter(user=owner).count() == 1


def test_the_secret_is_not_shown_after_a_refused_post(browser, owner):
    browser.post("/accounts/tokens/", {"name": "bot", "scopes": ["read"]})
    refused = browser.post("/accounts/tokens/", {"name": "bot", "scopes": ["read"]})
    assert refused.status_code == 400
    assert 'id="new-token"' not in refused.content.decode()
    # The secret still waits for its one GET: a refused post in between does not eat or show it.
    assert browser.get("/accounts/tokens/").context["created"]["name"] == "bot"


def test_it_shows_form_errors(browser, owner):
    api_token_create(user=owner, name="bot", scopes=["read"])
    response = browser.post("/accounts/tokens/", {"name": "bot", "scopes": ["read"]})
    # A refused form answers 400 with its errors in place (htmx swaps it; see static/js/app.js).
    assert response.status_code == 400
    assert "already have an active token" in response.content.decode()
    assert browser.post("/accounts/tokens/", {"name": "x"}).status_code == 400
    assert ApiToken.objects.count() == 1


def test_it_revokes_a_token(browser, owner):
    token, _ = api_token_create(user=owner, name="bot", scopes=["read"])
    response = browser.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "bot" not in browser.get("/accounts/tokens/").content.decode().split("Your tokens")[1]


def test_someone_elses_token_cannot_be_revoked(browser, other):
    token, _ = api_token_create(user=other, name="theirs", scopes=["read"])
    assert browser.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
