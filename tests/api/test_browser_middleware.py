"""Browser-only middleware (sessions, CSRF, auth, messages, CSP, htmx) is skipped by an API call
authenticated by a Bearer token with no session cookie, and by nothing else (config/browser_middleware.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from accounts.models import User
from config.browser_middleware import SessionMiddleware, token_api_request
from tests.api.conftest import access_for, assert_error, pat_for

CSP = "Content-Security-Policy"
TOKENS = "/api/v1/auth/tokens"
PAYLOAD = {"name": "laptop", "scopes": ["read"]}


def _request(path: str, *, authorization: str | None = None, session: bool = False) -> HttpRequest:
    extra: dict[str, Any] = {}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    if session:
        extra["HTTP_COOKIE"] = f"{settings.SESSION_COOKIE_NAME}=abc"
    return RequestFactory().post(path, **extra)


def test_only_a_bearer_api_call_without_a_session_cookie_is_a_token_call() -> None:
    assert token_api_request(_request("/api/v1/orders", authorization="Bearer x.y.z"))
    assert token_api_request(_request("/api/v1/orders", authorization="bearer brute_pat_x"))
    assert not token_api_request(_request("/api/v1/orders", authorization="Bearer x", session=True))
    assert not token_api_request(_request("/api/v1/orders", authorization="Basic eDp5"))
    assert not token_api_request(_request("/api/v1/orders"))
    assert not token_api_request(_request("/trade/order", authorization="Bearer x.y.z"))  # a page


def test_a_token_call_passes_the_browser_middleware_on_both_paths() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(hasattr(request, "session")))

    async def async_view(request: HttpRequest) -> HttpResponse:
        return view(request)

    token, page = _request("/api/v1/me", authorization="Bearer t"), _request("/api/v1/me", session=True)
    sync = SessionMiddleware(view)
    assert [sync(r).content for r in (token, page)] == [b"False", b"True"]  # type: ignore[union-attr]
    assert token.user.is_anonymous  # type: ignore[union-attr]  # until the token names the caller
    token, page = _request("/api/v1/me", authorization="Bearer t"), _request("/api/v1/me", session=True)
    asynchronous = SessionMiddleware(async_view)
    answers = [asyncio.run(asynchronous(r)).content for r in (token, page)]  # type: ignore[arg-type]
    assert answers == [b"False", b"True"]


def test_a_token_call_works_without_csrf_and_without_browser_headers(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(TOKENS, PAYLOAD, content_type="application/json", headers=access_for(owner))
    assert response.status_code == 201, response.content
    assert CSP not in response
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    me = client.get("/api/v1/me", headers=pat_for(owner, "read"))
    assert me.status_code == 200
    assert me.json()["auth"]["kind"] == "pat"


def test_a_session_api_call_keeps_the_browser_middleware_and_its_csrf_check(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    refused = client.post(TOKENS, PAYLOAD, content_type="application/json")
    assert_error(refused, 403, "forbidden")
    # A Bearer header of nothing valid does not lift the session call out of its CSRF check either.
    tagged = client.post(
        TOKENS, PAYLOAD, content_type="application/json", headers={"Authorization": "Basic eDp5"}
    )
    assert_error(tagged, 403, "forbidden")
    client.cookies["csrftoken"] = "a" * 32
    allowed = client.post(TOKENS, PAYLOAD, content_type="application/json", headers={"X-CSRFToken": "a" * 32})
    assert allowed.status_code == 201, allowed.content
    assert CSP in allowed


def test_a_page_asked_with_a_bearer_header_is_still_a_browser_request(db: None) -> None:
    response = Client().get("/", headers={"Authorization": "Bearer x.y.z"})
    assert CSP in response
    assert response.status_code in (200, 302)
