"""Weight-aware client-side rate limiting for MEXC REST.

MEXC budgets each endpoint separately, per IP for public calls and per account (UID) for signed ones:
500 weight per 10 s. Practitioners also cap at ~20 requests/s per endpoint. A 429 or 418 pauses the
whole scope until `Retry-After`, because repeated 429s escalate into an IP ban (418).

Across processes. MEXC counts per IP and per account, not per process. With a `SharedBudget` (Redis,
`REDIS_URL`) every process's limiter takes from the same buckets: one Lua script per acquire reads
the ban, the scope's pause and both buckets, refills them on Redis's own clock and takes the cost
atomically, so N processes together stay within one budget. A 418 or a 429 pause seen by one process
is written there too and stops the others at their next acquire. If Redis is unreachable the limiter
falls back to its own per-process buckets (logged) rather than stopping trading. Without Redis the
budget is per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from config import metrics
from trading.exchange.errors import IpBanned

log = logging.getLogger(__name__)


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


# KEYS: ban, scope pause, weight bucket, request bucket.
# ARGV: weight, capacity, window_s, requests_per_s, recover_s.
# Returns {"banned", seconds left} | {"paused", seconds left} | {"wait", seconds (0 = taken), tokens}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local banned = tonumber(redis.call('GET', KEYS[1]) or '0')
if banned > now then return {'banned', tostring(banned - now)} end
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return {'paused', tostring(paused - now)} end
local weight, cap0, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rps, recover = tonumber(ARGV[4]), tonumber(ARGV[5])
local w = redis.call('HMGET', KEYS[3], 'tokens', 'stamp', 'cap', 'cut_at')
local cap, cut_at = tonumber(w[3]) or cap0, tonumber(w[4])
if cut_at and now - cut_at > recover then cap = cap0; cut_at = nil end
local wt, ws = tonumber(w[1]), tonumber(w[2])
if not ws then wt, ws = cap, now end
if paused > ws then wt, ws = 0, paused end
wt = math.min(cap, wt + math.max(0, now - ws) * cap / window)
ws = math.max(ws, now)
local r = redis.call('HMGET', KEYS[4], 'tokens', 'stamp')
local rt, rs = tonumber(r[1]), tonumber(r[2])
if not rs then rt, rs = rps, now end
if paused > rs then rt, rs = 0, paused end
rt = math.min(rps, rt + math.max(0, now - rs) * rps)
rs = math.max(rs, now)
local cost = math.min(weight, cap)
local wait = 0
if cost - wt > 1e-9 then wait = (cost - wt) / (cap / window) end
if 1 - rt > 1e-9 then wait = math.max(wait, (1 - rt) / rps) end
if wait == 0 then wt = wt - cost; rt = rt - 1 end
redis.call('HSET', KEYS[3], 'tokens', tostring(wt), 'stamp', tostring(ws), 'cap', tostring(cap))
if cut_at then redis.call('HSET', KEYS[3], 'cut_at', tostring(cut_at))
else redis.call('HDEL', KEYS[3], 'cut_at') end
redis.call('EXPIRE', KEYS[3], math.ceil(window + recover) + 60)
redis.call('HSET', KEYS[4], 'tokens', tostring(rt), 'stamp', tostring(rs))
redis.call('EXPIRE', KEYS[4], 60)
return {'wait', tostring(wait), tostring(wt)}
"""

# KEYS: the pause or ban key, then (a pause naming its endpoint) the endpoint's weight bucket.
# ARGV: seconds, capacity, window_s. Keeps the later of the stored and the new end; a pause also halves
# the endpoint's shared capacity (down to 1/8), as the per-process limiter does. Returns seconds left.
_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local until_ = now + seconds
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'EX', math.ceil(seconds) + 60)
else until_ = current end
if KEYS[2] then
  local cap0, window = tonumber(ARGV[2]), tonumber(ARGV[3])
  local cap = tonumber(redis.call('HGET', KEYS[2], 'cap')) or cap0
  cap = math.max(cap0 / 8, cap / 2)
  redis.call('HSET', KEYS[2], 'cap', tostring(cap), 'cut_at', tostring(now))
end
return tostring(until_ - now)
"""


class SharedBudget:
    """The limiter's buckets, pauses and ban in Redis, shared by every process using the same `url`
    and `prefix` (one install). Each call is one atomic Lua script on Redis's clock."""

    def __init__(self, url: str, *, prefix: str = "brute:mexc:rl") -> None:
        self.url = url
        self.prefix = prefix
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )

    def _redis(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
            self._clients[loop] = client
        return client

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def take(
        self, scope: str, endpoint: str, weight: int, *, limiter: RateLimiter
    ) -> tuple[str, float, float]:
        """("banned" | "paused" | "wait", seconds, tokens left): "wait" with 0 s means taken."""
        answer: list[Any] = await self._redis().eval(
            _ACQUIRE,
            4,
            self._key("ban"),
            self._key("pause", scope),
            self._key("w", scope, endpoint),
            self._key("r", scope, endpoint),
            weight,
            limiter.weight_per_window,
            limiter.window_s,
            limiter.requests_per_s,
            limiter.recover_s,
        )
        kind = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        tokens = float(answer[2]) if len(answer) > 2 else 0.0
        return kind, float(answer[1]), tokens

    async def pause(self, scope: str, seconds: float, endpoint: str | None, *, limiter: RateLimiter) -> None:
        keys = [self._key("pause", scope)]
        if endpoint is not None:
            keys.append(self._key("w", scope, endpoint))
        await self._redis().eval(
            _BLOCK, len(keys), *keys, seconds, limiter.weight_per_window, limiter.window_s
        )

    async def ban(self, seconds: float) -> float:
        """Record a 418 for every process; returns the seconds left of the (possibly longer) ban."""
        left = await self._redis().eval(_BLOCK, 1, self._key("ban"), seconds, 0, 1)
        return float(left)

    async def banned_for(self) -> float:
        """Seconds left of a ban any process recorded (0 when none)."""
        answer = await self._redis().eval(
            "local t = redis.call('TIME') local b = tonumber(redis.call('GET', KEYS[1]) or '0') "
            "return tostring(math.max(0, b - (tonumber(t[1]) + tonumber(t[2]) / 1000000)))",
            1,
            self._key("ban"),
        )
        return float(answer)

    async def aclose(self) -> None:
        """Close this loop's client."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


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
    # With a shared budget (Redis) the buckets, pauses and bans are those of every process.
    shared: SharedBudget | None = None
    _shared_down_logged: float = 0.0
    _pending: set[asyncio.Task[Any]] = field(default_factory=set)

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
        """A 418: the whole IP is refused for minutes to days, so fail fast instead of queueing.
        With a shared budget the ban is also written for the other processes (in the background;
        `aban` waits for it)."""
        self._ban_here(seconds)
        if self.shared is not None:
            self._background(self.shared.ban(seconds))

    async def aban(self, seconds: float) -> None:
        """`ban`, returning once every process sharing the budget will see it."""
        self._ban_here(seconds)
        if self.shared is not None:
            await self._shared_call(self.shared.ban(seconds))

    def _ban_here(self, seconds: float) -> None:
        self.backoffs += 1
        self._banned_until = max(self._banned_until, self.clock() + seconds)
        if self.on_block is not None:
            self.on_block("banned", seconds)

    def _background(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._shared_call(coro))
        except RuntimeError:  # no loop (a sync caller): this process still honours it
            coro.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _shared_call(self, coro: Any) -> Any:
        try:
            return await coro
        except (RedisError, OSError) as exc:
            self._shared_down(exc)
            return None

    def _shared_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._shared_down_logged > 60:
            self._shared_down_logged = now
            log.warning("shared rate budget unreachable (%s): pacing this process alone", exc)

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
                delay = await self._take_shared(scope, endpoint, weight) if self.shared else None
                if delay is None:
                    delay = self._take(scope, endpoint, weight)
                if delay <= 0:
                    return
                self.waited_s += delay
                await asyncio.sleep(delay)

    def try_acquire(self, scope: Scope | str, endpoint: str, weight: int) -> bool:
        """Take `weight` from the scope's budget if it is there now, without waiting or yielding
        (False when it is not, or when callers already wait in that scope: they keep their turn).
        Raises `IpBanned` during a 418 ban. For a hot path that must not suspend (the sniper's send).
        With a shared budget (Redis) this counts in this process only: a round trip per send would
        cost about 0.1 ms; bans and pauses other processes recorded still stop it once seen here."""
        self._raise_if_banned()
        lock = self._locks.get(scope)
        if lock is not None and lock.locked():
            return False
        return self._take(scope, endpoint, weight) <= 0

    def _raise_if_banned(self) -> None:
        remaining = self._banned_until - self.clock()
        if remaining > 0:
            raise IpBanned(retry_after=remaining)

    async def _take_shared(self, scope: Scope | str, endpoint: str, weight: int) -> float | None:
        """The shared budget's answer: seconds to wait (0 = taken), None when Redis is unreachable.
        A ban or pause another process recorded is mirrored here (status, fail-fast)."""
        assert self.shared is not None
        try:
            kind, seconds, tokens = await self.shared.take(str(scope), endpoint, weight, limiter=self)
        except (RedisError, OSError) as exc:
            self._shared_down(exc)
            return None
        now = self.clock()
        if kind == "banned":
            self._banned_until = max(self._banned_until, now + seconds)
            raise IpBanned(retry_after=seconds)
        if kind == "paused":
            self._paused_until[scope] = max(self._paused_until.get(scope, 0.0), now + seconds)
            return seconds
        metrics.exchange_headroom(scope, endpoint, tokens)
        return seconds

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
        """Honour a 429/418 `Retry-After`: nothing in this scope goes out until it has passed (in
        every process, with a shared budget: written in the background, `apause` waits for it)."""
        self._pause_here(scope, seconds, endpoint)
        if self.shared is not None:
            self._background(self.shared.pause(str(scope), seconds, endpoint, limiter=self))

    async def apause(self, scope: Scope | str, seconds: float, endpoint: str | None = None) -> None:
        """`pause`, returning once every process sharing the budget will see it."""
        self._pause_here(scope, seconds, endpoint)
        if self.shared is not None:
            await self._shared_call(self.shared.pause(str(scope), seconds, endpoint, limiter=self))

    def _pause_here(self, scope: Scope | str, seconds: float, endpoint: str | None) -> None:
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
