"""When a shared dependency (Redis, the broker, the database) is unreachable: 503 with Retry-After.

The API answers in its one error shape (`service_unavailable`), pages with a "degraded" page; both
carry Retry-After. Nothing is cached or retried here: redis-py reconnects on the next command, so the
first request after Redis is back succeeds (the recovery takes as long as Redis takes to start).
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.deprecation import MiddlewareMixin
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("brute.degraded")
RETRY_AFTER_S = 5
MESSAGE = "The service is degraded: a shared dependency is unreachable. Retry after Retry-After seconds."
UNAVAILABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
    OperationalError,
    InterfaceError,
    ConnectionRefusedError,
)


def unavailable_cause(exc: BaseException | None) -> BaseException | None:
    """The exception in `exc`'s chain that means "a dependency is down", or None."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, UNAVAILABLE):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def api_unavailable_body() -> dict[str, object]:
    return {"error": {"code": "service_unavailable", "message": MESSAGE, "details": []}}


def degraded_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    log.warning("degraded: %s on %s %s: %s", type(exc).__name__, request.method, request.path, str(exc)[:200])
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(api_unavailable_body(), status=503)
    else:
        # No context processors: they may need the very dependency that is down.
        response = HttpResponse(loader.render_to_string("errors/503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


class DegradedMiddleware(MiddlewareMixin):
    """Turns a dependency outage raised by a view into a 503 (the handler500 catches the rest).
    MiddlewareMixin keeps it async-capable, so it adds no thread hop under ASGI."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        cause = unavailable_cause(exception)
        return degraded_response(request, cause) if cause is not None else None
