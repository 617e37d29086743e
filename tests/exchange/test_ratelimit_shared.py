"""The weight budget shared across processes through a real Redis (REDIS_URL): two limiters, each on
its own event loop in its own thread (as two processes would be), take from one budget, and a ban or
pause one of them meets stops the other. Against the bundled exchange over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from tests.exchange.conftest import make_client
from trading.exchange import errors
from trading.exchange.mexc import MexcExchange
from trading.exchange.ratelimit import RateLimiter, Scope, SharedBudget
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread


@pytest.fixture
def sim_config() -> SimConfig:
    # 10 weight per second per IP; three 429s within a minute earn a 60 s ban.
    return SimConfig(
        rate_limit_weight=10, rate_limit_window=1.0, rate_limit_strikes=3, rate_limit_ban_seconds=60
    )


@pytest.fixture
def prefix() -> str:
    return f"test:rl:{uuid.uuid4().hex[:8]}"


def limiter(redis_url: str | None, prefix: str) -> RateLimiter:
    shared = SharedBudget(redis_url, prefix=prefix) if redis_url else None
    # Half the server's 10/s: a full bucket plus a second's refill stays within its sliding window.
    return RateLimiter(weight_per_window=5, window_s=1.0, shared=shared)


def in_own_loop(work: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[threading.Thread, list[Any]]:
    """Run `work` on a new event loop in a new thread (a stand-in for another process)."""
    out: list[Any] = []

    def main() -> None:
        try:
            out.append(asyncio.run(work()))
        except BaseException as exc:  # handed to the test
            out.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    return thread, out


def burst(
    sim: Any, redis_url: str | None, prefix: str, calls: int
) -> Callable[[], Coroutine[Any, Any, MexcExchange]]:
    async def work() -> MexcExchange:
        client = make_client(sim, limiter=limiter(redis_url, prefix), max_retries=0)
        try:
            for _ in range(calls):
                await client.depth("BTCUSDT", limit=5)
        finally:
            await client.aclose()
            if client.limiter.shared is not None:
                await client.limiter.shared.aclose()
        return client

    return work


def run_two(*works: Callable[[], Coroutine[Any, Any, Any]]) -> list[Any]:
    started = [in_own_loop(w) for w in works]
    for thread, _ in started:
        thread.join(60)
    return [out[0] for _, out in started]


def test_two_limiters_on_one_redis_stay_within_one_budget(redis_url, prefix):
    # No ban here however many 429s: this test counts them.
    config = SimConfig(rate_limit_weight=10, rate_limit_window=1.0, rate_limit_strikes=10_000)
    with SimExchangeThread(config) as sim:
        two_processes_share_one_budget(sim, redis_url, prefix)


def two_processes_share_one_budget(sim: SimExchangeThread, redis_url: str, prefix: str) -> None:
    # Baseline in the same run: two per-process limiters each believe they have 5 weight/s, so
    # together they send twice the budget and the exchange refuses.
    refused_before = sim.rate_limited
    alone = run_two(burst(sim, None, prefix, 10), burst(sim, None, prefix, 10))
    refused_alone = sim.rate_limited - refused_before
    assert refused_alone > 0 or any(isinstance(r, errors.RateLimited) for r in alone)

    time.sleep(1.5)  # the server's window and our strikes settle
    refused_before = sim.rate_limited
    started = time.monotonic()
    a, b = run_two(burst(sim, redis_url, prefix, 10), burst(sim, redis_url, prefix, 10))
    elapsed = time.monotonic() - started
    assert isinstance(a, MexcExchange), a
    assert isinstance(b, MexcExchange), b
    assert sim.rate_limited == refused_before  # not one 429
    assert a.limiter.backoffs == b.limiter.backoffs == 0
    assert sum(a.sent.values()) + sum(b.sent.values()) == 20
    # 20 weight at 5/s after a full bucket of 5: at least 3 s, where each per-process limiter alone
    # (10 weight) needed 1 s.
    assert elapsed >= 2.8


def test_a_418_in_one_process_stops_the_other_without_a_request(sim, redis_url, prefix):
    async def earn_ban() -> float:
        # Another client on this IP ignores the 429s and earns the ban, then ours meets it.
        async with httpx.AsyncClient(base_url=sim.base_url) as other:
            for _ in range(4):
                await other.get("/api/v3/exchangeInfo")
        client = make_client(sim, limiter=limiter(redis_url, prefix))
        try:
            with pytest.raises(errors.IpBanned) as info:
                await client.server_time()
            return info.value.retry_after
        finally:
            await client.aclose()
            assert client.limiter.shared is not None
            await client.limiter.shared.aclose()

    (banned_for,) = run_two(earn_ban)
    assert isinstance(banned_for, float)
    assert banned_for > 0

    async def the_other() -> MexcExchange:
        client = make_client(sim, limiter=limiter(redis_url, prefix))
        try:
            with pytest.raises(errors.IpBanned) as info:
                await client.depth("BTCUSDT", limit=5)
            assert 50 < info.value.retry_after <= 60
            assert client.limiter.banned_for > 50  # mirrored: /healthz and pages of this process too
        finally:
            await client.aclose()
            assert client.limiter.shared is not None
            await client.limiter.shared.aclose()
        return client

    (other,) = run_two(the_other)
    assert isinstance(other, MexcExchange), other
    assert sum(other.sent.values()) == 0  # nothing went on the wire during the ban


async def test_a_429_pause_in_one_limiter_holds_the_other(redis_url, prefix):
    first, second = limiter(redis_url, prefix), limiter(redis_url, prefix)
    await first.apause(Scope.IP, 0.5, endpoint="/api/v3/depth")
    started = time.monotonic()
    await second.acquire(Scope.IP, "/api/v3/depth", 1)
    assert time.monotonic() - started >= 0.4
    await second.acquire(Scope.UID, "/api/v3/order", 1)  # another scope was never paused
    assert first.shared is not None
    assert second.shared is not None
    await first.shared.aclose()
    await second.shared.aclose()


async def test_without_a_reachable_redis_the_limiter_paces_its_own_process(caplog):
    unreachable = RateLimiter(weight_per_window=5, window_s=1.0, shared=SharedBudget("redis://127.0.0.1:1/0"))
    started = time.monotonic()
    for _ in range(7):
        await unreachable.acquire(Scope.IP, "/api/v3/depth", 1)
    assert time.monotonic() - started >= 0.35  # 2 over the local bucket of 5 at 5/s
    assert "pacing this process alone" in caplog.text
