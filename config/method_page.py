"""A page for "405 Method Not Allowed". Django's `require_POST` and friends answer a bare, empty 405:
a person who opens a form's address (a bookmark, a reload after a POST, a link copied from a button)
sees a blank page. This middleware, innermost in settings.MIDDLEWARE so that the response still goes
through CSP and the rest, swaps such an empty 405 for the house's error page naming the methods the
address accepts (from the `Allow` header, which it keeps). The API under /api/ answers its own way."""

from __future__ import annotations

from collections.abc import Awaitable

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from config.browser_middleware import API_PREFIX
from config.middleware import SyncAndAsync

# Methods a person never picks: OPTIONS is the protocol's own, HEAD comes with GET.
UNSAID = frozenset({"OPTIONS", "HEAD"})


def _bare_405(request: HttpRequest, response: HttpResponseBase) -> bool:
    return (
        response.status_code == 405
        and isinstance(response, HttpResponse)  # not a streamed body
        and not response.content
        and not request.path_info.startswith(API_PREFIX)
    )


def method_not_allowed_page(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """The 405 page for `response` when it is a bare 405 from a page's view, else `response` as is."""
    if not _bare_405(request, response):
        return response
    allowed = [m.strip().upper() for m in response.get("Allow", "").split(",")]
    allowed = [m for m in allowed if m and m not in UNSAID]
    context = {"allowed": allowed, "opens": "GET" in allowed, "method": request.method}
    page = render(request, "errors/405.html", context, status=405)
    page["Allow"] = response.get("Allow", "")
    return page


class MethodNotAllowedPageMiddleware(SyncAndAsync):
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return method_not_allowed_page(request, response)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)  # is_async
        answered = await response
        if not _bare_405(request, answered):
            return answered
        # Rendering reads the session's user (the nav, the footer): database work, so in a thread.
        return await sync_to_async(method_not_allowed_page)(request, answered)
