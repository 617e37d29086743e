"""Rate limits for the API, per client IP and per token, counted in fixed windows.

They plug into ninja's throttling (which answers 429 and sets Retry-After from `wait()`), but count
with a fixed window rather than ninja's SimpleRateThrottle, whose read-modify-write of a timestamp
list through the cache loses hits when several processes serve the same client, and which keeps
per-request state on a throttle instance that all threads share.

Where they count (issue 18: the file cache cost a third of an API read, a small-file write per hit):
- with REDIS_URL, in Redis, one round trip per limit (INCR and EXPIRE in one pipeline), shared by
  every web process;
- without Redis, in this process's memory. Each web process (gunicorn worker, WEB_WORKERS) then
  counts on its own, so a client whose requests spread over N workers may reach up to N times a
  limit before every worker refuses it; set REDIS_URL where an exact budget matters.

Rates are "N/period" (period s, sec, m, min, h, hour, d, day, optionally with a multiplier, "100/5m")
read from settings on each request; an empty value or "0" disables that limit.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from functools import cache

import redis
from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@cache
def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """'100/min' -> (100, 60); None for no limit. Raises ValueError on a malformed rate."""
    if not rate or rate.strip() == "0":
        return None
    count, _, period = rate.strip().partition("/")
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits) :]
    if unit not in _PERIODS or not count.isdigit():
        raise ValueError(f"Malformed rate {rate!r}: expected e.g. '100/min'")
    return int(count), int(digits or 1) * _PERIODS[unit]


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address API_NUM_PROXIES trusted proxies put in X-Forwarded-For."""
    proxies = int(settings.API_NUM_PROXIES)
    forwarded: str | None = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class WindowRateThrottle(BaseThrottle, ABC):
    scope = ""
    setting = ""

    def __init__(self) -> None:
        self._local = threading.local()

    @abstractmethod
    def ident(self, request: HttpRequest) -> str | None:
        """Whose budget this request spends (an IP, a token, a user), or None when none applies."""

    def rate(self) -> tuple[int, int] | None:
        return parse_rate(getattr(settings, self.setting))

    def allow_request(self, request: HttpRequest) -> bool:
        self._local.wait = None
        rate = self.rate()
        ident = self.ident(request)
        if rate is None or ident is None:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"brute:rl:{self.scope}:{ident}:{window}"
        count = hit(key, window=window, period=period)
        if count <= limit:
            return True
        self._local.wait = max(1.0, (window + 1) * period - now)
        return False

    def wait(self) -> float | None:
        # ninja calls wait() right after allow_request() on the same thread.
        return getattr(self._local, "wait", None)


class _MemoryCounts:
    """Hits per key (a key names its window) for one process; keys of ended windows are swept."""

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}  # key -> [count, when its window ends]
        self._lock = threading.Lock()
        self._swept = 0.0

    def hit(self, key: str, ends_at: float) -> int:
        with self._lock:
            entry = self._counts.get(key)
            if entry is None:
                entry = self._counts[key] = [0, ends_at]
            entry[0] += 1
            now = time.monotonic()
            if now - self._swept > 30:
                self._swept = now
                wall = time.time()
                self._counts = {k: v for k, v in self._counts.items() if v[1] > wall}
            return int(entry[0])

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_memory = _MemoryCounts()


@cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def hit(key: str, *, window: int, period: int) -> int:
    """Counts one hit of `key` in its window; returns the window's count so far."""
    url = settings.REDIS_URL
    if not url:
        return _memory.hit(key, (window + 1) * period)
    pipe = _redis(str(url)).pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, period + 1, nx=True)
    count, _ = pipe.execute()
    return int(count)


def counts_clear() -> None:
    """Forget this process's in-memory counts (tests)."""
    _memory.clear()


class IpRateThrottle(WindowRateThrottle):
    scope = "ip"
    setting = "API_RATE_LIMIT_IP"

    def ident(self, request: HttpRequest) -> str | None:
        return client_ip(request)


class TokenRateThrottle(WindowRateThrottle):
    """Per personal token, or per user for a login (JWT or session); none when anonymous."""

    scope = "token"
    setting = "API_RATE_LIMIT_TOKEN"

    def ident(self, request: HttpRequest) -> str | None:
        auth = getattr(request, "auth", None)
        return None if auth is None else str(auth)


class LoginRateThrottle(IpRateThrottle):
    """Tighter, per IP, for the endpoints that take a password or a refresh token."""

    scope = "login"
    setting = "API_RATE_LIMIT_LOGIN"


def default_throttles() -> list[BaseThrottle]:
    return [IpRateThrottle(), TokenRateThrottle()]
