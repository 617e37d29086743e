"""MEXC's new-coin calendar: an unofficial web endpoint, slow and loosely shaped.

Every field is optional and the endpoint is flaky: a timeout, an error status, a body that is not JSON
or not the expected shape is logged and yields nothing; it never raises.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

# The site refuses obvious scripts; a browser-like agent is what the public tools send.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari/537.36"
TICKER = re.compile(r"^[A-Z0-9]{1,20}$")
# Before 2001 or after 2100 in ms: not an open time.
MIN_MS, MAX_MS = 978_307_200_000, 4_102_444_800_000


@dataclass(frozen=True)
class CalendarCoin:
    ticker: str
    name: str
    coin_id: str
    opens_at: datetime | None
    zone: str

    def symbol(self, quote: str = "USDT") -> str:
        return f"{self.ticker}{quote}"


def calendar_url() -> str:
    return str(settings.MEXC_CALENDAR_URL)


def calendar_fetch(*, url: str | None = None, timeout: float | None = None) -> list[CalendarCoin] | None:
    """The calendar's coins, or None when the endpoint failed (already logged)."""
    wait = timeout if timeout is not None else settings.SNIPER_CALENDAR_TIMEOUT
    try:
        response = httpx.get(
            url or calendar_url(),
            params={"timestamp": str(int(time.time() * 1000))},
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=wait,
            follow_redirects=True,
        )
    except httpx.HTTPError as exc:
        log.warning("new-coin calendar unreachable: %s", exc or type(exc).__name__)
        return None
    if response.status_code != 200:
        log.warning("new-coin calendar answered HTTP %s", response.status_code)
        return None
    try:
        body = response.json()
    except ValueError:
        log.warning("new-coin calendar answered something that is not JSON (%d bytes)", len(response.content))
        return None
    coins = calendar_parse(body)
    if coins is None:
        log.warning("new-coin calendar body has no data.newCoins list; skipped")
    return coins


def calendar_parse(body: Any) -> list[CalendarCoin] | None:
    """`data.newCoins[]` into coins; entries without a usable ticker are skipped. None: not the shape."""
    data = body.get("data") if isinstance(body, dict) else None
    items = data.get("newCoins") if isinstance(data, dict) else data if isinstance(data, list) else None
    if not isinstance(items, list):
        return None
    coins = []
    for item in items:
        coin = _coin(item)
        if coin is None:
            log.info("new-coin calendar entry skipped: %.200r", item)
        else:
            coins.append(coin)
    return coins


def _coin(item: Any) -> CalendarCoin | None:
    if not isinstance(item, dict):
        return None
    ticker = _text(item.get("vcoinName")).upper()
    if not TICKER.match(ticker):
        return None
    name = _text(item.get("vcoinNameFull")) or _text(item.get("projectName"))
    return CalendarCoin(
        ticker=ticker,
        name=name[:120],
        coin_id=_text(item.get("vcoinId"))[:64],
        opens_at=_ms(item.get("firstOpenTime")),
        zone=_text(item.get("zone"))[:40],
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _ms(value: Any) -> datetime | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    if not MIN_MS <= ms <= MAX_MS:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
