"""Rate limits for the API, per client IP and per token, counted in the Django cache.

They plug into ninja's throttling (which answers 429 and sets Retry-After from `wait()`), but count
with a fixed window and `cache.incr` rather than ninja's SimpleRateThrottle, whose read-modify-write
of a timestamp list loses hits when several processes serve the same client, and which keeps
per-request state on a throttle instance that all threads share.

Rates are "N/period" (period s, sec, m, min, h, hour, d, day, optionally with a multiplier, "100/5m")
read from settings on each request; an empty value or "0" disables that limit.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


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
    proxies = int(getattr(settings, "API_NUM_PROXIES", 0))
    forwarded: str | None = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class CacheRateThrottle(BaseThrottle, ABC):
    scope = ""
    setting = ""
    default = ""

    def __init__(self) -> None:
        self._local = threading.local()

    @abstractmethod
    def ident(self, request: HttpRequest) -> str | None:
        """Whose budget this request spends (an IP, a token, a user), or None when none applies."""

    def rate(self) -> tuple[int, int] | None:
        return parse_rate(getattr(settings, self.setting, self.default))

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
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired or evicted between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        if count <= limit:
            return True
        self._local.wait = max(1.0, (window + 1) * period - now)
        return False

    def wait(self) -> float | None:
        # ninja calls wait() right after allow_request() on the same thread.
        return getattr(self._local, "wait", None)


class IpRateThrottle(CacheRateThrottle):
    scope = "ip"
    setting = "API_RATE_LIMIT_IP"
    default = "600/min"

    def ident(self, request: HttpRequest) -> str | None:
        return client_ip(request)


class TokenRateThrottle(CacheRateThrottle):
    """Per personal token, or per user for a login (JWT or session); none when anonymous."""

    scope = "token"
    setting = "API_RATE_LIMIT_TOKEN"
    default = "300/min"

    def ident(self, request: HttpRequest) -> str | None:
        auth = getattr(request, "auth", None)
        return None if auth is None else str(auth)


class LoginRateThrottle(IpRateThrottle):
    """Tighter, per IP, for the endpoints that take a password or a refresh token."""

    scope = "login"
    setting = "API_RATE_LIMIT_LOGIN"
    default = "20/min"


def default_throttles() -> list[BaseThrottle]:
    return [IpRateThrottle(), TokenRateThrottle()]
