from __future__ import annotations

import sys

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from config.degraded import degraded_response, unavailable_cause
from config.health import HTTP_STATUS, health_report


@csrf_exempt  # a probe's POST is answered 405 by require_safe, not 403 by the CSRF check
@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """GET: the report as JSON; HEAD: the same status and headers, no body (a load balancer's probe)."""
    report = health_report()
    response = JsonResponse(report, status=HTTP_STATUS[report["status"]])
    if request.method == "HEAD":
        response.content = b""
    return response


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except`: an outage raised by a middleware answers 503, not 500.
    if (cause := unavailable_cause(sys.exc_info()[1])) is not None:
        return degraded_response(request, cause)
    # No context processors: the error may be the database itself.
    return HttpResponseServerError(loader.render_to_string("errors/500.html"))


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """/favicon.ico for browsers that ask for the old name. The static URL is looked up per request:
    in production it is the hashed name from the manifest, which exists only after collectstatic."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
