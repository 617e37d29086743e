"""The browser-only middleware (Django's sessions, auth and messages, django-csp's CSP, django-htmx)
as settings.MIDDLEWARE names them: each is skipped by a token-authenticated API call
(`token_api_request`), and runs as before for every other request. CSRF stays Django's own class,
named as Django's deployment check (security.W003) looks for it: ninja's views are csrf_exempt and
its session auth checks CSRF itself, so a token call costs it little.

Its own module, not config/middleware.py: these import the auth models, which config.logging's
import (in LOGGING, before the apps are ready) must not."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import csp.middleware as csp
import django_htmx.middleware as htmx
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.http.response import HttpResponseBase

API_PREFIX = "/api/"


def token_api_request(request: HttpRequest) -> bool:
    """Whether `request` is an API call that authenticates with `Authorization: Bearer` and carries
    no session cookie. Such a call never uses the session (config/api_auth.py: a Bearer header is
    authenticated by the token alone; the session is tried only without one), so it needs none of the
    browser's middleware: no session read, no CSRF (a browser never adds a Bearer header by itself),
    no messages, no CSP for a JSON answer, no htmx. A call with a session cookie keeps all of them,
    CSRF included. Decided once per request."""
    known: bool | None = getattr(request, "_brute_token_api", None)
    if known is None:
        scheme = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0]
        known = (
            request.path_info.startswith(API_PREFIX)
            and scheme.lower() == "bearer"  # as ninja's HttpBearer reads it
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )
        request._brute_token_api = known  # type: ignore[attr-defined]
        if known:
            request.user = AnonymousUser()  # until the token names the caller (BearerAuth)
    return known


class BrowserOnly:
    """Mixed in before a browser-only middleware class: a token API call (`token_api_request`) goes
    straight on to the next middleware. Its process_view still runs (Django collects those); the
    CSRF one passes ninja's views, which are csrf_exempt and check CSRF in their session auth."""

    get_response: Any  # each base class types it its own way (GetResponse, in effect)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if token_api_request(request):
            passed: HttpResponseBase | Awaitable[HttpResponseBase] = self.get_response(request)
            return passed  # an awaitable under ASGI: the caller awaits it
        return super().__call__(request)  # type: ignore[misc, no-any-return]


class SessionMiddleware(BrowserOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(BrowserOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(BrowserOnly, messages.MessageMiddleware):
    pass


class CSPMiddleware(BrowserOnly, csp.CSPMiddleware):
    pass


class HtmxMiddleware(BrowserOnly, htmx.HtmxMiddleware):
    pass
