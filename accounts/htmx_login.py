"""An HTMX request that lost its session is sent to the log-in page as a whole page, not a fragment.

`login_required` answers a lost session with a 302 to the log-in page; the browser's XHR follows it
silently and htmx would swap the whole log-in page into the target (an order panel, a list). For an
HTMX request that redirect becomes `HX-Redirect` to the log-in page, whose `next` is the page the
user was on (htmx sends it as `HX-Current-URL`), not the fragment or POST endpoint that was asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def _back_to(request: HttpRequest) -> str:
    """The path (with query) of the page that made the request, when it is on this site."""
    current = request.headers.get("HX-Current-URL", "")
    if not current or not url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
        return "/"
    parts = urlsplit(current)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class HtmxLoginRedirectMiddleware:
    """Place after `django_htmx.middleware.HtmxMiddleware`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302, 303):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        redirect = HttpResponse(status=200)
        redirect["HX-Redirect"] = f"{login}?{urlencode({'next': _back_to(request)})}"
        return redirect
