"""The exchange rate limiter with and without the Redis-shared budget (REDIS_URL), on a private
redis-server on loopback:

1. The cost of one `acquire` (what every exchange call pays before it is sent), p50/p99 over 2,000
   calls with budget to spare. Baseline of the same run: the per-process limiter (no Redis).
2. Two processes (each its own limiter and event loop) asking for 3x the budget together for 3 s:
   weight granted per second against a 100/s budget. Baseline of the same run: two per-process
   limiters, which together grant twice the budget (what made the exchange answer 429/418).
About 15 s.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import time
import uuid

from bench.feed import _redis
from trading.exchange.ratelimit import RateLimiter, Scope, SharedBudget


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _acquire_costs(limiter: RateLimiter, n: int) -> list[float]:
    costs = []
    for i in range(n):
        started = time.perf_counter()
        await limiter.acquire(Scope.IP, f"/api/v3/e{i % 50}", 1)
        costs.append((time.perf_counter() - started) * 1e3)
    if limiter.shared is not None:
        await limiter.shared.aclose()
    return costs


def _greedy(url: str | None, prefix: str, seconds: float, out: multiprocessing.Queue[int]) -> None:
    async def main() -> int:
        shared = SharedBudget(url, prefix=prefix) if url else None
        limiter = RateLimiter(weight_per_window=100, window_s=1.0, requests_per_s=1000, shared=shared)
        granted, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            await limiter.acquire(Scope.IP, "/api/v3/depth", 1)
            granted += 1
        if shared is not None:
            await shared.aclose()
        return granted

    out.put(asyncio.run(main()))


def _two_processes(url: str | None, seconds: float) -> float:
    queue: multiprocessing.Queue[int] = multiprocessing.Queue()
    prefix = f"bench:rl:{uuid.uuid4().hex[:8]}"
    procs = [multiprocessing.Process(target=_greedy, args=(url, prefix, seconds, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    total = queue.get(timeout=60) + queue.get(timeout=60)
    for proc in procs:
        proc.join(30)
    # A full bucket (100) per limiter is spent at once; count what the window granted beyond it.
    starts = 100 if url else 200
    return (total - starts) / seconds


def _generous(shared: SharedBudget | None = None) -> RateLimiter:
    return RateLimiter(weight_per_window=1e9, window_s=1.0, requests_per_s=1e9, shared=shared)


def _line(name: str, costs: list[float]) -> str:
    return f"  {name:<32}p50 {_pct(costs, 0.5) * 1e3:7.1f} us  p99 {_pct(costs, 0.99) * 1e3:7.1f} us"


def run() -> None:
    with _redis() as url:
        local = asyncio.run(_acquire_costs(_generous(), 2000))
        shared = asyncio.run(_acquire_costs(_generous(SharedBudget(url, prefix="bench:cost")), 2000))
        print("one acquire (what each exchange call pays first), 2,000 calls:")
        print(_line("baseline, per-process limiter:", local))
        print(_line("shared budget in Redis (Lua):", shared))
        alone = _two_processes(None, 3.0)
        together = _two_processes(url, 3.0)
        print("two processes wanting more than a 100 weight/s budget, 3 s:")
        print(f"  baseline, per-process budgets:  {alone:6.1f} weight/s granted (2x the budget)")
        print(f"  shared budget in Redis:         {together:6.1f} weight/s granted (target <= 100)")
        print(f"  (mean acquire cost, shared: {statistics.fmean(shared) * 1e3:.1f} us)")


if __name__ == "__main__":
    run()
