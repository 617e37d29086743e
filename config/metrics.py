"""Prometheus metrics: every metric object of Brute and the one-line helpers that record them. The
request middleware, the WebSocket counter and the protected /metrics view are in config/metrics_web.py.

This module imports no Django, so the exchange clients (which must stay Django-free) can record too.

Processes. With PROMETHEUS_MULTIPROC_DIR set (by `make run`, and in the Docker image), every process
on a host (daphne/gunicorn workers, the Celery worker and its pool, beat, the feed, the sniper) writes
its samples to files in that folder, and /metrics on any web process of the host sums them
(prometheus_client's multiprocess mode). The folder must be emptied before the processes start
(runbrute does; the compose file gives it a fresh volume). Without it each process counts for itself.

Access. /metrics is not public: with METRICS_TOKEN set it needs `Authorization: Bearer <token>`;
without it it answers only requests made straight to a loopback address (no proxy headers). Anyone
else gets 404.

Names follow Prometheus conventions: `brute_` prefix, seconds, `_total` counters. Helpers never
raise: metrics must not break the path they measure.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Gauge, Histogram, values
from prometheus_client.multiprocess import mark_process_dead

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Samples files are named by process. Containers sharing one folder (deploy/compose.yaml) all have
    # small pids, so the host name (the container's id) goes in too; the pid is read at each write, so
    # a forked pool process gets its own files.
    _HOST = socket.gethostname().replace("_", "-")

    def _process() -> str:
        return f"{_HOST}-{os.getpid()}"

    values.ValueClass = values.MultiProcessValue(process_identifier=_process)
    # A restarted container reuses its host name and pid: its live gauges start from zero, not from the
    # last run's values.
    mark_process_dead(_process())

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_FIRING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

HTTP_REQUEST_SECONDS = Histogram(
    "brute_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route pattern.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "brute_websocket_connections",
    "WebSocket connections open now.",
    multiprocess_mode="livesum",
)
FEED_FRAMES = Counter("brute_feed_frames_total", "Market data frames received from the exchange.", ["kind"])
FEED_LAST_FRAME = Gauge(
    "brute_feed_last_frame_timestamp_seconds",
    "Unix time of the last market data frame (staleness: brute_feed_staleness_seconds).",
    multiprocess_mode="max",
)
ORDERS = Counter("brute_orders_total", "Orders placed through order_place, by outcome.", ["outcome"])
EXCHANGE_REQUESTS = Counter(
    "brute_exchange_requests_total",
    "REST requests to the exchange by HTTP status (429 rate limited, 418 banned; 'error' = no answer).",
    ["status"],
)
EXCHANGE_HEADROOM = Gauge(
    "brute_exchange_ratelimit_headroom",
    "Request weight still available in the rate limiter's window, by scope and endpoint (0 = waiting).",
    ["scope", "endpoint"],
    multiprocess_mode="min",
)
SNIPER_FIRING_SECONDS = Histogram(
    "brute_sniper_firing_seconds",
    "Sniper latency by stage (e.g. open_to_send: listing open to order sent; send_to_ack).",
    ["stage"],
    buckets=_FIRING_BUCKETS,
)
CELERY_TASKS = Counter(
    "brute_celery_tasks_total", "Celery task runs by task and outcome.", ["task", "outcome"]
)
# Shadow mode (config/shadow). The gauges are set by whichever process measured last (the shipper, a
# status or /healthz call, the verification task), hence "livemostrecent" across processes.
SHADOW_STATE = Gauge(
    "brute_shadow_state",
    "Shadow mode's state: 1 for the current one (off, catching_up, in_sync, cut_over, error), else 0.",
    ["state"],
    multiprocess_mode="livemostrecent",
)
SHADOW_LAG_COMMITS = Gauge(
    "brute_shadow_lag_commits",
    "Row writes committed on the primary and not yet applied to the shadow.",
    multiprocess_mode="livemostrecent",
)
SHADOW_LAG_SECONDS = Gauge(
    "brute_shadow_lag_seconds",
    "Age of the oldest write not yet applied to the shadow (0 when caught up).",
    multiprocess_mode="livemostrecent",
)
SHADOW_APPLIED = Counter("brute_shadow_applied_total", "Row writes applied to the shadow by the shipper.")
SHADOW_REPLAY_ERRORS = Counter(
    "brute_shadow_replay_errors_total",
    "Shipping rounds that failed and were retried, by kind (database: a side refused or was away; "
    "position_moved: another shipper).",
    ["kind"],
)
SHADOW_MISMATCHES = Gauge(
    "brute_shadow_mismatches",
    "Divergent table ranges found by the last verification (0: identical).",
    multiprocess_mode="livemostrecent",
)
SHADOW_VERIFICATIONS = Counter(
    "brute_shadow_verifications_total", "Shadow verifications run, by result (ok, divergent).", ["result"]
)
SHADOW_STATES = ("off", "catching_up", "in_sync", "cut_over", "error")


def _safely(record: Callable[[], None]) -> None:
    try:
        record()
    except Exception:  # a metric must never break what it measures
        log.debug("metric not recorded", exc_info=True)


# --- One-line helpers for the code that records.


def feed_frame(kind: str) -> None:
    """A market data frame of `kind` (e.g. "deals", "depth", "ticker") arrived now."""

    def record() -> None:
        FEED_FRAMES.labels(kind).inc()
        FEED_LAST_FRAME.set(time.time())

    _safely(record)


def order_outcome(outcome: str) -> None:
    """An order placement ended as `outcome` (e.g. "accepted", "rejected", "failed", "unknown")."""
    _safely(lambda: ORDERS.labels(outcome).inc())


def counted_orders(submit: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorates the function that sends an order: its returned order's status is the outcome
    (e.g. "new", "filled", "pending" when unconfirmed), a BruteError raised is "rejected", any other
    exception "failed"."""
    # When decorating, not on import: config.errors imports Django, and the exchange adapters (which
    # import this module for their counters) load without it.
    from config.errors import BruteError

    @wraps(submit)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            order = submit(*args, **kwargs)
        except BruteError:
            order_outcome("rejected")
            raise
        except Exception:
            order_outcome("failed")
            raise
        order_outcome(str(getattr(order, "status", "unknown")).lower())
        return order

    return wrapper


def exchange_response(status: int | str) -> None:
    """A REST call to the exchange answered with HTTP `status` (or "error" when none came)."""
    _safely(lambda: EXCHANGE_REQUESTS.labels(str(status)).inc())


def exchange_headroom(scope: str, endpoint: str, remaining: float) -> None:
    """The rate limiter's bucket for (`scope`, `endpoint`) has `remaining` weight left in its window."""
    _safely(lambda: EXCHANGE_HEADROOM.labels(str(scope), endpoint).set(remaining))


def sniper_firing(stage: str, seconds: float) -> None:
    """One sniper latency sample for `stage`."""
    _safely(lambda: SNIPER_FIRING_SECONDS.labels(stage).observe(seconds))


def task_outcome(task: str, outcome: str) -> None:
    _safely(lambda: CELERY_TASKS.labels(task, outcome).inc())


def shadow_state(state: str) -> None:
    """Shadow mode is in `state` now (one of SHADOW_STATES)."""

    def record() -> None:
        for name in SHADOW_STATES:
            SHADOW_STATE.labels(name).set(1 if name == state else 0)

    _safely(record)


def shadow_lag(commits: int, seconds: float) -> None:
    """The shadow trails the primary by `commits` row writes, the oldest `seconds` old."""

    def record() -> None:
        SHADOW_LAG_COMMITS.set(commits)
        SHADOW_LAG_SECONDS.set(seconds)

    _safely(record)


def shadow_applied(count: int) -> None:
    _safely(lambda: SHADOW_APPLIED.inc(count))


def shadow_replay_error(kind: str) -> None:
    _safely(lambda: SHADOW_REPLAY_ERRORS.labels(kind).inc())


def shadow_verified(mismatches: int) -> None:
    """A verification found `mismatches` divergent ranges."""

    def record() -> None:
        SHADOW_MISMATCHES.set(mismatches)
        SHADOW_VERIFICATIONS.labels("ok" if mismatches == 0 else "divergent").inc()

    _safely(record)
