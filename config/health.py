"""What /healthz reports: each dependency's state and each role's heartbeat, measured now, never assumed.

Two registries, so a new dependency or process is one entry:

- `CHECKS`: probes of what serving a page needs or uses (name -> probe, critical). A critical probe
  that fails turns the whole answer into 503.
- `ROLES`: the long-running processes besides the web server (the names of the Docker image's roles,
  of `make run`'s processes and of the README's list). Each writes a heartbeat to the cache with
  `role_heartbeat(name)` (or runs beside `with_heartbeat(name, coroutine)`); /healthz shows its age
  and lists every role that is down (stale or never seen) under `down`. A role being down degrades
  the service without making /healthz 503: a load balancer must not drop a web process for it.

The overall `status` always agrees with the parts, and `reason` says why when it is not "ok":

  status     HTTP  when
  ok         200   every check "ok" and no role down
  starting   200   nothing critical failed; what is not ok has simply not reported yet ("unknown":
                   no heartbeat or frame so far) and this process started less than STARTUP_GRACE
                   ago (the worker's first heartbeat needs beat's first tick, up to ~30 s + a queue)
  degraded   200   nothing critical failed, but a role is down (stale, or still silent after the
                   grace) or a non-critical check is not ok (market stream, exchange ban, shadow lag)
  down       503   a critical check (database, cache) failed
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.utils import timezone

from config.shadow.services import shadow_configured

Check = dict[str, object]


class HealthReport(TypedDict):
    status: str  # ok | starting | degraded | down (see the module's docstring)
    reason: str  # why, when not "ok"; "" when ok
    version: str
    checks: dict[str, Check]
    down: list[str]


T = TypeVar("T")


@dataclass(frozen=True)
class Role:
    """A process that proves it is alive with a heartbeat in the cache every `every_s` seconds."""

    name: str  # the role's name in Docker, `make run` and the README
    check: str  # its key under /healthz "checks"
    key: str  # its cache key
    stale_after: timedelta
    every_s: float = 5.0
    own_process_only_with_redis: bool = False  # without Redis it runs inside the live process
    only_when_shadowing: bool = False  # runs only while shadow mode is configured (config/shadow)


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("marketfeed", "market_feed", "brute:market-feed:heartbeat", timedelta(seconds=30)),
        # The worker's heartbeat is a task that beat sends every 30 s (config/schedule.py): it proves the
        # worker consumes, not merely that it runs.
        Role("worker", "worker", "brute:celery:heartbeat", timedelta(seconds=120), every_s=30),
        Role("beat", "beat", "brute:celery-beat:heartbeat", timedelta(seconds=60), every_s=10),
        Role("sniper", "sniper", "brute:sniper:heartbeat", timedelta(seconds=30)),
        Role(
            "userstream",
            "userstream",
            "brute:userstream:heartbeat",
            timedelta(seconds=30),
            own_process_only_with_redis=True,
        ),
        # `manage.py shadow run`: its check is not "shadow", which is shadow mode's own state.
        Role(
            "shadow",
            "shadow_shipper",
            "brute:shadow:heartbeat",
            timedelta(seconds=30),
            only_when_shadowing=True,
        ),
    )
}
# The web roles answer /healthz themselves (web: gunicorn, pages and API; live: uvicorn, WebSockets);
# `migrate` is a one-time job, not a running process.
WEB_ROLES = ("web", "live")
MARKET_FEED_KEY = ROLES["marketfeed"].key
# When the market socket last delivered a frame (written by the feed with its heartbeat).
MARKET_STREAM_KEY = "brute:market-feed:last-frame"


# How long after this process started a part that has never reported counts as starting, not down.
STARTUP_GRACE_S = 120.0  # the worker's stale_after: its first heartbeat may take that long
STARTED = time.monotonic()  # this process's start (the module loads with Django's URLconf)
HTTP_STATUS = {"ok": 200, "starting": 200, "degraded": 200, "down": 503}


def role_heartbeat(name: str) -> str:
    """Record that role `name` is alive now; returns the ISO timestamp written."""
    now = timezone.now().isoformat()
    cache.set(ROLES[name].key, now, timeout=max(300, int(ROLES[name].stale_after.total_seconds() * 5)))
    return now


async def with_heartbeat(name: str, main: Coroutine[Any, Any, T]) -> T:
    """Run `main` with role `name`'s heartbeat beside it on the same event loop (so a blocked loop
    shows as a stale heartbeat); a failing heartbeat write (cache down) never stops `main`."""

    async def beat() -> None:
        while True:
            with contextlib.suppress(Exception):
                await sync_to_async(role_heartbeat, thread_sensitive=False)(name)
            await asyncio.sleep(ROLES[name].every_s)

    beating = asyncio.create_task(beat())
    try:
        return await main
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


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


def _stamp(key: str, stale_after: timedelta) -> Check:
    seen = cache.get(key)
    if not seen:
        return {"status": "unknown", "detail": "no heartbeat yet"}
    age = timezone.now() - datetime.fromisoformat(seen)
    status = "ok" if age <= stale_after else "stale"
    return {"status": status, "last_seen": seen, "age_s": round(age.total_seconds(), 1)}


def _heartbeat(role: Role) -> Check:
    if role.own_process_only_with_redis and not settings.REDIS_URL:
        return {"status": "ok", "role": role.name, "detail": "runs inside the live process (no REDIS_URL)"}
    if role.only_when_shadowing and not shadow_configured():
        return {"status": "ok", "role": role.name, "detail": "not running: shadow mode is off"}
    return {**_stamp(role.key, role.stale_after), "role": role.name}


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
    # When probed, not on import: the market feed imports this module, and trading.exchanges the feed.
    from trading.exchanges import exchange_block, hub_status

    block = exchange_block()
    status = hub_status()
    check: Check = {"status": "ok"}
    if block is not None:
        check = {"status": block["kind"], "until": block["until"], "seconds_left": block["seconds"]}
    if status is not None:
        check["clock_offset_ms"] = status.clock_offset_ms
    return check


# name -> (probe, critical). Add an entry to report one more dependency.
CHECKS: dict[str, tuple[Callable[[], Check], bool]] = {
    "database": (_database, True),
    "cache": (_cache, True),
    "market_stream": (lambda: _stamp(MARKET_STREAM_KEY, timedelta(seconds=15)), False),
    "exchange": (_exchange, False),
    "shadow": (_shadow, False),
}


def health_report() -> HealthReport:
    """{"status": "ok"|"starting"|"degraded"|"down", "reason", "version",
    "checks": {name: {"status", "ms", ...}}, "down": [role, ...]}.

    `status` is "down" (HTTP 503, `HTTP_STATUS`) only when a critical check fails; `down` names
    every role whose heartbeat is stale or missing; `starting` and `degraded` are explained in the
    module's docstring, `reason` names the parts behind them.
    """
    checks = {name: _timed(probe) for name, (probe, _critical) in CHECKS.items()}
    for role in ROLES.values():
        checks[role.check] = _timed(functools.partial(_heartbeat, role))
    if checks.get("beat", {}).get("status") != "ok" and checks.get("worker", {}).get("status") != "ok":
        checks["worker"]["detail"] = "its heartbeat is a task sent by beat: check beat first"
    down = [role.name for role in ROLES.values() if checks[role.check]["status"] != "ok"]
    status, reason = overall(checks)
    return {"status": status, "reason": reason, "version": settings.VERSION, "checks": checks, "down": down}


def overall(checks: dict[str, Check], *, uptime_s: float | None = None) -> tuple[str, str]:
    """(status, reason) from the parts; `uptime_s` defaults to this process's age."""
    failed = [name for name, (_p, critical) in CHECKS.items() if critical and checks[name]["status"] != "ok"]
    if failed:
        return "down", f"critical check failed: {', '.join(failed)}"
    parts = {name: check for name, check in checks.items() if check["status"] != "ok"}
    if not parts:
        return "ok", ""
    uptime = time.monotonic() - STARTED if uptime_s is None else uptime_s
    names = ", ".join(f"{name} ({check['status']})" for name, check in parts.items())
    if uptime < STARTUP_GRACE_S and all(check["status"] == "unknown" for check in parts.values()):
        return "starting", f"started {uptime:.0f} s ago; not reported yet: {names}"
    return "degraded", f"not ok: {names}"
