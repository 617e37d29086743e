"""Real (not injected) rate limits: a tiny server budget, so a burst overruns it."""

import httpx
import pytest

from trading.exchange import errors
from trading.simexchange.config import SimConfig


@pytest.fixture
def sim_config():
    return SimConfig(
        rate_limit_weight=10, rate_limit_window=1.0, rate_limit_strikes=3, rate_limit_ban_seconds=60
    )


async def test_polling_over_the_server_budget_backs_off_and_recovers_without_a_ban(client):
    # Our limiter believes the documented 500/10 s; this server allows 10/1 s. The 429s teach it.
    books = [await client.depth("BTCUSDT", limit=5) for _ in range(25)]
    assert all(book.bids for book in books)
    assert client.limiter.backoffs >= 1


async def test_a_418_ban_is_ip_banned_and_stops_further_calls_locally(sim, client):
    # Another process on this IP ignores the 429s and earns the ban (exchangeInfo weighs 10 > budget).
    async with httpx.AsyncClient(base_url=sim.base_url) as other:
        statuses = [(await other.get("/api/v3/exchangeInfo")).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 418]
    with pytest.raises(errors.IpBanned) as info:
        await client.server_time()
    assert info.value.retry_after > 0
    with pytest.raises(errors.IpBanned):
        await client.server_time()
    assert client.limiter.backoffs == 1  # the second call failed locally, without asking MEXC
