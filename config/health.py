"""What /healthz reports: each dependency's state, measured now, never assumed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.utils import timezone

from config.tasks import HEARTBEAT_KEY

Check = dict[str, object]
MARKET_FEED_KEY = "brute:market-feed:heartbeat"
# When the market socket last delivered a frame (written by the feed with its heartbeat).
MARKET_STREAM_KEY = "brute:market-feed:last-frame"


def _timed(probe: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = probe()
    except Exception as exc:  # a health probe reports every failure rather than raising
        result = {"status": "down", "error": exc.__class__.__name__}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {
        "status": "ok",
        "vendor": "libsql" if connection.display_name == "libSQL" else "sqlite",
        "remote": not str(settings.DATABASES["default"]["NAME"]).startswith("/"),
    }


def _cache() -> Check:
    cache.set("brute:healthz", "1", timeout=10)
    ok = cache.get("brute:healthz") == "1"
    backend = "redis" if "redis" in type(caches["default"]).__module__ else "file"
    return {"status": "ok" if ok else "down", "backend": backend}


def _heartbeat(key: str, stale_after: timedelta) -> Check:
    seen = cache.get(key)
    if not seen:
        return {"status": "unknown", "detail": "no heartbeat yet"}
    age = timezone.now() - datetime.fromisoformat(seen)
    status = "ok" if age <= stale_after else "stale"
    return {"status": status, "last_seen": seen, "age_s": round(age.total_seconds(), 1)}


def _shadow() -> Check:
    # Shadow mode (config/shadow): never a hard dependency; a shadow that trails shows as "lagging".
    from config.shadow.services import shadow_status

    report = shadow_status(timeout=2.0)
    state = report["state"]
    status = {"off": "ok", "in_sync": "ok", "cut_over": "ok", "catching_up": "lagging"}.get(state, "down")
    keep = ("state", "lag_commits", "lag_seconds", "error")
    return {"status": status, **{key: report[key] for key in keep if key in report}}


def _exchange() -> Check:
    """Whether MEXC currently refuses this server: a 418 ban or a 429 pause (seen by any process)."""
    from trading.exchanges import exchange_block, hub_status

    block = exchange_block()
    status = hub_status()
    check: Check = {"status": "ok"}
    if block is not None:
        check = {"status": block["kind"], "until": block["until"], "seconds_left": block["seconds"]}
    if status is not None:
        check["clock_offset_ms"] = status.clock_offset_ms
    return check


def health_report() -> dict[str, object]:
    checks = {
        "database": _timed(_database),
        "cache": _timed(_cache),
        "market_feed": _timed(lambda: _heartbeat(MARKET_FEED_KEY, timedelta(seconds=30))),
        "celery": _timed(lambda: _heartbeat(HEARTBEAT_KEY, timedelta(seconds=120))),
        "shadow": _timed(_shadow),
        "market_stream": _timed(lambda: _heartbeat(MARKET_STREAM_KEY, timedelta(seconds=15))),
        "exchange": _timed(_exchange),
    }
    # Only the database and cache are hard dependencies of serving a page; the rest degrade.
    healthy = all(checks[name]["status"] == "ok" for name in ("database", "cache"))
    return {"status": "ok" if healthy else "down", "version": settings.VERSION, "checks": checks}
