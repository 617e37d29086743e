"""The web side of the metrics (config/metrics.py): request latency by route, open WebSockets, the
values computed when scraped, and the protected /metrics view.

Processes. With PROMETHEUS_MULTIPROC_DIR set (by `make run`, and in the Docker image), every process
on a host (daphne/gunicorn workers, the Celery worker and its pool, beat, the feed, the sniper) writes
its samples to files in that folder, and /metrics on any web process of the host sums them
(prometheus_client's multiprocess mode). The folder must be emptied before the processes start
(runbrute does; the compose file gives it a fresh volume). Without it each process counts for itself.

Access. /metrics is not public: with METRICS_TOKEN set it needs `Authorization: Bearer <token>`
(else 401); without it it answers only requests made straight to a loopback address with no proxy
headers, and 404 to anyone else.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from config.health import ROLES, health_report
from config.metrics import HTTP_REQUEST_SECONDS, WEBSOCKET_CONNECTIONS, _safely
from config.middleware import AroundView

log = logging.getLogger(__name__)


class RequestMetricsMiddleware(AroundView[float]):
    """Times every request by its URL pattern (not its path: ids would explode the label set)."""

    def before(self, request: HttpRequest) -> float:
        return time.perf_counter()

    def after(self, request: HttpRequest, response: HttpResponseBase, state: float) -> None:
        _observe(request, response, state)


def _observe(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = ("/" + match.route) if match is not None and match.route else "unmatched"
    seconds = time.perf_counter() - started
    _safely(
        lambda: HTTP_REQUEST_SECONDS.labels(request.method or "", route, str(response.status_code)).observe(
            seconds
        )
    )


def count_websockets(app: Any) -> Any:
    """Wraps an ASGI app: each websocket scope counts as one open connection while the app runs."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await app(scope, receive, send)
            return
        accepted = False

        async def counting_send(message: dict[str, Any]) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                _safely(WEBSOCKET_CONNECTIONS.inc)
            await send(message)

        try:
            await app(scope, receive, counting_send)
        finally:
            if accepted:
                _safely(WEBSOCKET_CONNECTIONS.dec)

    return wrapped


# --- Values computed when scraped: heartbeat ages, feed staleness, backup ages.


class ScrapeTimeCollector(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        yield self._feed_staleness(now)
        yield self._role_ages()
        yield self._backup_ages(now)

    def _feed_staleness(self, now: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "brute_feed_staleness_seconds", "Seconds since the last market data frame (-1: none yet)."
        )
        last = self.registry.get_sample_value("brute_feed_last_frame_timestamp_seconds")
        family.add_metric([], now - last if last else -1)
        return family

    def _role_ages(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "brute_role_heartbeat_age_seconds",
            "Age of each role's last heartbeat (-1: never seen or unreadable).",
            labels=["role"],
        )
        try:
            checks = health_report()["checks"]
        except Exception:
            checks = {}
        for role in ROLES.values():
            age = checks.get(role.check, {}).get("age_s")
            family.add_metric([role.name], float(age) if isinstance(age, int | float) else -1.0)
        return family

    def _backup_ages(self, now: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "brute_backup_age_seconds",
            "Seconds since the last successful backup of each kind (-1: none yet).",
            labels=["kind"],
        )
        latest: dict[str, float] = {}
        try:
            # Inside the try: without the backups app (or its table) the gauge reads -1, the scrape stands.
            from backups.models import BackupRun

            runs = BackupRun.objects.filter(
                action=BackupRun.Action.CREATE, status=BackupRun.Status.SUCCEEDED, finished_at__isnull=False
            )
            for kind, incremental in (("full", False), ("incremental", True)):
                run = runs.filter(incremental=incremental).order_by("-finished_at").first()
                if run is not None and run.finished_at is not None:
                    latest[kind] = run.finished_at.timestamp()
        except Exception:
            log.warning("metrics: backup ages unavailable", exc_info=True)
        for kind in ("full", "incremental"):
            family.add_metric([kind], now - latest[kind] if kind in latest else -1)
        return family


def render_metrics() -> bytes:
    """The exposition text: every process's samples (multiprocess mode) or this process's, plus the
    values computed now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(ScrapeTimeCollector(registry))
    # The scrape-time values first: measuring them (health_report) also records gauges, such as
    # shadow mode's state and lag, that the registry's text must then include.
    now = generate_latest(scrape)
    return generate_latest(registry) + now


_LOOPBACK = {"127.0.0.1", "::1"}
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def metrics_allowed(request: HttpRequest) -> bool | None:
    """True to serve, False for a wrong or missing token (401), None to hide the endpoint (404)."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    direct = not any(request.META.get(h) for h in _PROXY_HEADERS)
    return True if direct and request.META.get("REMOTE_ADDR") in _LOOPBACK else None


def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = metrics_allowed(request)
    if allowed is None:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not allowed:
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
