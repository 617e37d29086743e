"""413 for a request body over DATA_UPLOAD_MAX_MEMORY_SIZE, instead of a 500 (the API) or a bare 400.

Django raises RequestDataTooBig when something reads a body over the limit: the API's handlers took it
for an unexpected error (500, logged with a traceback), and a page got Django's bare 400. This
middleware, outermost but for the request id and the metrics, answers a body whose Content-Length is
over the limit before anything reads it: the API's one error shape (`payload_too_large`) under /api/,
the house's 413 page elsewhere. A form upload (multipart) is left to Django (its files do not count
against the limit); if its fields do, `bad_request` (handler400) answers the same 413 page.
"""

from __future__ import annotations

from collections.abc import Awaitable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.defaults import bad_request as django_bad_request

from config.browser_middleware import API_PREFIX
from config.middleware import SyncAndAsync

CODE = "payload_too_large"


def limit_bytes() -> int | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def too_large_message() -> str:
    limit = limit_bytes() or 0
    return f"The request body is too large: at most {limit / 1_000_000:.1f} MB ({limit} bytes)."


def over_limit(request: HttpRequest) -> bool:
    """The declared body is over the limit and would be read whole (not a form upload's files)."""
    limit = limit_bytes()
    if limit is None:
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
    return length > limit and (request.path_info.startswith(API_PREFIX) or not multipart)


def too_large_response(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        body = {"error": {"code": CODE, "message": too_large_message(), "details": []}}
        response: HttpResponse = JsonResponse(body, status=413)
    else:
        context = {"limit_mb": f"{(limit_bytes() or 0) / 1_000_000:.1f}"}
        response = render(request, "errors/413.html", context, status=413)
    response["Connection"] = "close"  # the unread body is not worth keeping the connection for
    return response


class BodyTooLargeMiddleware(SyncAndAsync):
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if over_limit(request):
            response = too_large_response(request)
            if self.is_async:
                return _ready(response)
            return response
        return self.get_response(request)


async def _ready(response: HttpResponseBase) -> HttpResponseBase:
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a body over the limit that only showed itself while being read is a 413 too."""
    if isinstance(exception, RequestDataTooBig):
        return too_large_response(request)
    return django_bad_request(request, exception)  # type: ignore[arg-type]
