"""Server time of each terminal page (p50, p95) with realistic data.

Data: the real 2,800 symbols synced from the bundled exchange, a ticker for every one of them in the
feed's snapshot, a 20-level book with trades for SOLUSDT, 1,000 stored candles, and a trader with
200 orders (market fills and resting limits). Each page is rendered through Django's test client in
this process (no network, no browser), so the figure is the server's own work per request.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

PAGES = [
    "/",
    "/markets/",
    "/markets/?q=USDT&sort=change",
    "/markets/SOLUSDT/",
    "/orders/",
    "/portfolio/",
    "/settings/",
    "/sniper/listings/",
    "/notifications/",
]
ROUNDS = 25


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    os.environ["DATABASE_TEST_NAME"] = str(tmp / "test.db")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _bench()
    finally:
        connection.creation.destroy_test_db(str(tmp / "test.db"), verbosity=0)


def _seed(user: object) -> None:
    from trading import services
    from trading.feed.store import snapshot_write
    from trading.models import Candle, Symbol

    rng = random.Random(7)
    tickers = {
        s: {
            "price": f"{rng.uniform(0.001, 500):.4f}",
            "change": f"{rng.uniform(-20, 20):.2f}",
            "quote_volume": f"{rng.uniform(0, 5e7):.2f}",
            "bid": None,
            "ask": None,
        }
        for s in Symbol.objects.values_list("symbol", flat=True)
    }
    tickers["SOLUSDT"]["price"] = "127.40"
    book = {
        "bids": [[f"{127.39 - i * 0.01:.2f}", f"{rng.uniform(0.1, 30):.2f}"] for i in range(20)],
        "asks": [[f"{127.41 + i * 0.01:.2f}", f"{rng.uniform(0.1, 30):.2f}"] for i in range(20)],
        "trades": [{"p": "127.40", "q": "0.5", "s": "BUY", "t": 1_767_225_600_000 + i} for i in range(20)],
    }
    snapshot_write(tickers=tickers, books={"SOLUSDT": book}, watched=["SOLUSDT"])
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1000)
    Candle.objects.bulk_create(
        Candle(
            symbol="SOLUSDT", interval="1m", open_time=start + timedelta(minutes=i),
            open=Decimal("127"), high=Decimal("128"), low=Decimal("126"), close=Decimal("127.5"),
            volume=Decimal("10"), quote_volume=Decimal("1275"),
        )
        for i in range(1000)
    )  # fmt: skip
    for i in range(200):
        if i % 2:
            services.order_place(user=user, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="10")
        else:
            services.order_place(
                user=user, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="0.1", price="50"
            )


def _bench() -> None:
    from django.core.cache import caches
    from django.test import Client, override_settings

    from tests.factories import UserFactory
    from trading import services
    from trading.simexchange.config import SimConfig
    from trading.simexchange.testing import SimExchangeThread

    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    config = SimConfig(tick_seconds=3600, push_seconds=3600, kline_push_seconds=3600)
    with (
        SimExchangeThread(config) as mexc,
        override_settings(MEXC_BASE_URL=mexc.base_url, MEXC_SIMULATED=True, CACHES=locmem, DEBUG=False),
    ):
        caches["default"].clear()
        services.symbols_sync()
        user = UserFactory()
        services.trading_account_get_or_create(user=user)
        _seed(user)
        client = Client()
        client.force_login(user)
        print(f"data: 2800 symbols with tickers, 1000 candles, 200 orders; {ROUNDS} requests per page")
        print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
        for page in PAGES:
            client.get(page)  # warm the template cache
            timings = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                response = client.get(page)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (page, response.status_code)
            p50, p95, mean = _pct(timings, 0.5), _pct(timings, 0.95), statistics.mean(timings)
            print(f"{page:34} {p50:8.1f} {p95:8.1f} {mean:8.1f}")
