"""Weight-aware client-side rate limiting for MEXC REST.

MEXC budgets each endpoint separately, per IP for public calls and per account (UID) for signed ones:
500 weight per 10 s. Practitioners also cap at ~20 requests/s per endpoint. A 429 or 418 pauses the
whole scope until `Retry-After`, because repeated 429s escalate into an IP ban (418).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from config import metrics
from trading.exchange.errors import IpBanned


class Scope(StrEnum):
    IP = "ip"
    UID = "uid"


# (method, path) -> weight. Entries ending in ":all" are the no-symbol variants.
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/defaultSymbols"): 1,
    ("GET", "/api/v3/depth"): 1,
    ("GET", "/api/v3/aggTrades"): 1,
    ("GET", "/api/v3/klines"): 1,
    ("GET", "/api/v3/avgPrice"): 1,
    ("GET", "/api/v3/ticker/bookTicker"): 1,
    ("GET", "/api/v3/trades"): 5,
    ("GET", "/api/v3/exchangeInfo"): 10,
    ("GET", "/api/v3/ticker/24hr"): 1,
    ("GET", "/api/v3/ticker/24hr:all"): 40,
    ("GET", "/api/v3/ticker/price"): 1,
    ("GET", "/api/v3/ticker/price:all"): 2,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/order"): 2,
    ("GET", "/api/v3/openOrders"): 3,
    ("GET", "/api/v3/allOrders"): 10,
    ("GET", "/api/v3/account"): 10,
    ("GET", "/api/v3/myTrades"): 10,
    ("GET", "/api/v3/tradeFee"): 20,
    ("POST", "/api/v3/batchOrders"): 1,
}


def weight_of(method: str, path: str, *, has_symbol: bool = True) -> int:
    if not has_symbol and (method, f"{path}:all") in WEIGHTS:
        return WEIGHTS[(method, f"{path}:all")]
    return WEIGHTS.get((method, path), 1)


@dataclass
class TokenBucket:
    capacity: float
    refill_per_s: float
    tokens: float = 0.0
    stamp: float | None = None

    def refill(self, now: float) -> None:
        if self.stamp is None:
            self.tokens, self.stamp = self.capacity, now
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_s)
        self.stamp = max(self.stamp, now)

    def deficit(self, cost: float) -> float:
        """Seconds until `cost` tokens are available (0 when they are)."""
        missing = cost - self.tokens
        # Tolerate float dust, else a refill that is exactly due reads as a 1e-14 s wait.
        return missing / self.refill_per_s if missing > 1e-9 else 0.0


@dataclass
class RateLimiter:
    weight_per_window: float = 500
    window_s: float = 10.0
    requests_per_s: float = 20.0
    clock: Callable[[], float] = time.monotonic
    _weights: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    _requests: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    _paused_until: dict[str, float] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # After a 429 the endpoint's budget is halved (down to 1/8) and restored once MEXC has been quiet
    # for `recover_s`; its FAQ says access is back to normal about 10 minutes after an over-limit episode.
    recover_s: float = 600.0
    _cut_at: dict[tuple[str, str], float] = field(default_factory=dict)
    backoffs: int = 0
    waited_s: float = 0.0
    _banned_until: float = 0.0
    # Told of every 429 pause and 418 ban as (kind "rate_limited" | "banned", seconds), so the process
    # can show it on pages, in /healthz and in the operators' inbox. Called on the limiter's loop.
    on_block: Callable[[str, float], None] | None = None

    @property
    def banned_for(self) -> float:
        """Seconds left of a 418 ban (0 when none)."""
        return max(0.0, self._banned_until - self.clock())

    @property
    def paused_for(self) -> float:
        """Seconds left of the longest 429 pause in any scope (0 when none)."""
        now = self.clock()
        return max([0.0, *(until - now for until in self._paused_until.values())])

    def ban(self, seconds: float) -> None:
        """A 418: the whole IP is refused for minutes to days, so fail fast instead of queueing."""
        self.backoffs += 1
        self._banned_until = max(self._banned_until, self.clock() + seconds)
        if self.on_block is not None:
            self.on_block("banned", seconds)

    async def acquire(self, scope: Scope | str, endpoint: str, weight: int) -> None:
        """Wait until `weight` fits the scope's budget. `scope` is `Scope.IP`, or `Scope.UID` or
        `uid:<account>` for one account's budget (MEXC counts signed calls per account). Raises
        `IpBanned` at once during a 418 ban: queueing would only lengthen it."""
        self._raise_if_banned()
        # One lock per scope keeps waiters FIFO (a heavy call is not starved by light ones) while a
        # paused IP scope does not hold up signed calls, which MEXC counts per account.
        async with self._locks.setdefault(scope, asyncio.Lock()):
            while True:
                # A 418 that arrived while this caller waited (for the lock or for tokens) stops it
                # too: nothing is sent during a ban.
                self._raise_if_banned()
                delay = self._take(scope, endpoint, weight)
                if delay <= 0:
                    return
                self.waited_s += delay
                await asyncio.sleep(delay)

    def try_acquire(self, scope: Scope | str, endpoint: str, weight: int) -> bool:
        """Take `weight` from the scope's budget if it is there now, without waiting or yielding
        (False when it is not, or when callers already wait in that scope: they keep their turn).
        Raises `IpBanned` during a 418 ban. For a hot path that must not suspend (the sniper's send)."""
        self._raise_if_banned()
        lock = self._locks.get(scope)
        if lock is not None and lock.locked():
            return False
        return self._take(scope, endpoint, weight) <= 0

    def _raise_if_banned(self) -> None:
        remaining = self._banned_until - self.clock()
        if remaining > 0:
            raise IpBanned(retry_after=remaining)

    def _take(self, scope: Scope | str, endpoint: str, weight: int) -> float:
        now = self.clock()
        paused = self._paused_until.get(scope, 0.0) - now
        if paused > 0:
            return paused
        key = (scope, endpoint)
        wb = self._weights.setdefault(key, self._bucket(self.weight_per_window, self.window_s))
        if key in self._cut_at and now - self._cut_at[key] > self.recover_s:
            del self._cut_at[key]
            wb.capacity, wb.refill_per_s = self.weight_per_window, self.weight_per_window / self.window_s
        rb = self._requests.setdefault(key, self._bucket(self.requests_per_s, 1.0))
        wb.refill(now)
        rb.refill(now)
        cost = min(float(weight), wb.capacity)
        wait = max(wb.deficit(cost), rb.deficit(1.0))
        if wait == 0:
            wb.tokens -= cost
            rb.tokens -= 1.0
        metrics.exchange_headroom(scope, endpoint, wb.tokens)
        return wait

    @staticmethod
    def _bucket(capacity: float, window_s: float) -> TokenBucket:
        return TokenBucket(capacity=capacity, refill_per_s=capacity / window_s)

    def pause(self, scope: Scope | str, seconds: float, endpoint: str | None = None) -> None:
        """Honour a 429/418 `Retry-After`: nothing in this scope goes out until it has passed."""
        self.backoffs += 1
        if self.on_block is not None:
            self.on_block("rate_limited", seconds)
        now = self.clock()
        until = now + seconds
        self._paused_until[scope] = max(self._paused_until.get(scope, 0.0), until)
        # Drain the buckets too, so the first calls after the pause do not burst straight back in.
        for (s, _), bucket in [*self._requests.items(), *self._weights.items()]:
            if s == scope:
                bucket.tokens = 0.0
                bucket.stamp = until
        if endpoint is not None:
            self._cut((scope, endpoint), now)

    def _cut(self, key: tuple[str, str], now: float) -> None:
        # The real budget is evidently lower than ours (other processes on the IP/UID, or a stricter
        # limit than documented): halve it so the next window stays under.
        bucket = self._weights.setdefault(key, self._bucket(self.weight_per_window, self.window_s))
        floor = self.weight_per_window / 8
        bucket.capacity = max(floor, bucket.capacity / 2)
        bucket.refill_per_s = bucket.capacity / self.window_s
        self._cut_at[key] = now
