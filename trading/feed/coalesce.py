"""At most one publish per group per interval, sent on the leading edge.

A group that has been quiet for a whole interval is flushed as soon as the feed task yields (so a lone
tick is not delayed by the window); a busy group is flushed once per interval with everything that
changed meanwhile. The feed task drains every event already queued before it yields, so all the events
of one exchange frame land in the same publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class Coalescer:
    def __init__(self, interval_for: Callable[[str], float]) -> None:
        self._interval_for = interval_for
        self._dirty: set[str] = set()
        self._last: dict[str, float] = {}
        self._wake = asyncio.Event()

    def mark(self, key: str) -> None:
        if key not in self._dirty:
            self._dirty.add(key)
            self._wake.set()

    def forget(self, key: str) -> None:
        self._dirty.discard(key)
        self._last.pop(key, None)

    def _next_due(self, now: float) -> tuple[list[str], float | None]:
        due: list[str] = []
        wait: float | None = None
        for key in self._dirty:
            left = self._last.get(key, float("-inf")) + self._interval_for(key) - now
            if left <= 0:
                due.append(key)
            elif wait is None or left < wait:
                wait = left
        return due, wait

    async def run(self, flush: Callable[[str], Awaitable[None]]) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            due, wait = self._next_due(time.monotonic())
            for key in due:
                self._dirty.discard(key)
                self._last[key] = time.monotonic()
                await flush(key)
            if wait is not None and not due:
                # Sleep until the earliest window ends, but wake early for a newly dirty quiet group.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            if self._dirty:
                self._wake.set()
