"""`RateLimiter.try_acquire`: the sniper's send path takes budget now or not at all, never waiting."""

from __future__ import annotations

import asyncio

import pytest

from trading.exchange.errors import IpBanned
from trading.exchange.ratelimit import RateLimiter

ORDER = "/api/v3/order"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_try_acquire_takes_what_is_there_and_refuses_the_rest_without_waiting() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    # 20 requests a second per endpoint and scope: the 21st in the same instant is refused, not queued.
    assert all(limiter.try_acquire("uid:a", ORDER, 1) for _ in range(20))
    assert not limiter.try_acquire("uid:a", ORDER, 1)
    assert limiter.try_acquire("uid:b", ORDER, 1)  # another account has its own budget
    clock.now += 0.05
    assert limiter.try_acquire("uid:a", ORDER, 1)  # one request's worth refilled
    assert limiter.waited_s == 0


def test_try_acquire_honours_a_429_pause_and_raises_during_a_418_ban() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    limiter.pause("uid:a", 2.0, endpoint=ORDER)
    assert not limiter.try_acquire("uid:a", ORDER, 1)
    assert limiter.try_acquire("uid:b", ORDER, 1)  # a 429 pauses the scope that met it
    clock.now += 2.1
    assert limiter.try_acquire("uid:a", ORDER, 1)
    limiter.ban(60)
    with pytest.raises(IpBanned):
        limiter.try_acquire("uid:b", ORDER, 1)


def test_try_acquire_leaves_their_turn_to_callers_already_waiting_in_the_scope() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)

    async def scenario() -> bool:
        for _ in range(20):
            await limiter.acquire("uid:a", ORDER, 1)
        waiter = asyncio.create_task(limiter.acquire("uid:a", ORDER, 1))
        await asyncio.sleep(0)  # the waiter holds the scope's lock, sleeping for a token
        clock.now += 1.0  # tokens are back, but the waiter came first
        jumped = limiter.try_acquire("uid:a", ORDER, 1)
        waiter.cancel()
        return jumped

    assert asyncio.run(scenario()) is False
