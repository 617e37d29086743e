"""Weight-based limits per identity and endpoint (fact sheet section 3), with 429 escalating to 418."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

from trading.simexchange.errors import ApiError


class RateLimitError(ApiError):
    def __init__(self, code: int, msg: str, status: int, retry_after: int) -> None:
        super().__init__(code, msg, status)
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    """Sliding window of ``budget`` weight per ``window`` seconds for each (identity, endpoint).

    ``strikes`` 429s within ``strike_window`` seconds ban the identity for ``ban_seconds`` (418).
    """

    budget: int = 500
    window: float = 10.0
    strikes: int = 10
    strike_window: float = 60.0
    ban_seconds: float = 120.0
    _spent: dict[tuple[str, str], deque[tuple[float, int]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    # The weight in each window above, kept as it changes: summing the window on every request cost
    # a burst of N orders from one IP O(N) each (tens of us per order at 100 orders).
    _used: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _strikes: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _bans: dict[str, float] = field(default_factory=dict)
    # Every 429 and 418 answered, so a benchmark can show that a burst stayed under the limits.
    refused: int = 0

    def charge(self, identity: str, endpoint: str, weight: int, now: float) -> None:
        banned_until = self._bans.get(identity, 0.0)
        if banned_until > now:
            raise self._error(418, banned_until - now)
        key = (identity, endpoint)
        spent = self._spent[key]
        used = self._used[key]
        while spent and spent[0][0] <= now - self.window:
            used -= spent.popleft()[1]
        self._used[key] = used
        if used + weight > self.budget:
            self._strike(identity, now)
            wait = spent[0][0] + self.window - now if spent else self.window
            raise self._error(429, wait)
        spent.append((now, weight))
        self._used[key] = used + weight

    def _strike(self, identity: str, now: float) -> None:
        strikes = self._strikes[identity]
        strikes.append(now)
        while strikes and strikes[0] <= now - self.strike_window:
            strikes.popleft()
        if len(strikes) >= self.strikes:
            self._bans[identity] = now + self.ban_seconds
            strikes.clear()
            raise self._error(418, self.ban_seconds)

    def _error(self, status: int, wait: float) -> RateLimitError:
        self.refused += 1
        retry = max(1, math.ceil(wait))
        if status == 418:
            return RateLimitError(418, "IP banned after repeated rate limit violations", 418, retry)
        return RateLimitError(429, "Too Many Requests", 429, retry)
