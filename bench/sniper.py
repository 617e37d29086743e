"""Sniper latency: from the market frame that shows a listing open (the probe's order book with asks)
to the buy order leaving Brute (its Order row, written just before the request is sent), over 20
scripted listings on the bundled exchange server; also from the exchange's open time to that order."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

LISTINGS = 20


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sniper-"))
    os.environ["DATABASE_TEST_NAME"] = str(tmp / "test.db")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        _bench(override_settings)
    finally:
        connection.creation.destroy_test_db(str(tmp / "test.db"), verbosity=0)


def _bench(override_settings: type) -> None:
    from django.utils import timezone

    from tests.factories import UserFactory
    from trading import services as trading
    from trading.models import Order
    from trading.simexchange.config import SimConfig
    from trading.simexchange.testing import SimExchangeThread
    from trading.sniper.models import Listing, Rule, RuleFiring
    from trading.sniper.runner import Sniper
    from trading.sniper.services.listings import symbol_refresh

    config = SimConfig(
        tick_seconds=0.02, push_seconds=3600, kline_push_seconds=3600, taker_orders_per_second=0
    )
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with (
        SimExchangeThread(config) as mexc,
        override_settings(
            MEXC_BASE_URL=mexc.base_url, MEXC_SIMULATED=False, CACHES=locmem,
            MEXC_CALENDAR_URL="http://127.0.0.1:9/", SNIPER_PROBE_MS=50,
        ),
    ):  # fmt: skip
        symbol_refresh(symbol="SOLUSDT")
        user = UserFactory()
        trading.api_credential_save(user=user, api_key=mexc.api_key, api_secret=mexc.api_secret)
        trading.trading_mode_set(user=user, mode="live")
        Rule.objects.create(user=user, any_new_listing=True, amount=Decimal("20"))
        sniper = Sniper()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(sniper.run(),), daemon=True)
        thread.start()
        frame_to_order, open_to_order = [], []
        for i in range(LISTINGS):
            symbol = f"BENCH{i}USDT"
            opens_at = mexc.now() + 600
            mexc.add_listing(symbol, opens_at=opens_at, price=Decimal("0.5"))
            symbol_refresh(symbol=symbol)
            Listing.objects.create(
                symbol=symbol, base_asset=symbol[:-4], state="listed",
                expected_open=timezone.now() + timedelta(milliseconds=600),
            )  # fmt: skip
            deadline = time.monotonic() + 15
            firing = None
            while time.monotonic() < deadline:
                firing = RuleFiring.objects.filter(symbol=symbol, status="done").first()
                if firing is not None:
                    break
                time.sleep(0.02)
            if firing is None or firing.order_id is None:
                print(f"{symbol}: not bought within 15 s")
                continue
            order = Order.objects.get(pk=firing.order_id)
            frame_to_order.append((order.created - firing.detected_at).total_seconds() * 1000)
            open_to_order.append(order.created.timestamp() * 1000 - opens_at)
        loop.call_soon_threadsafe(sniper.stopping.set)
        thread.join(timeout=10)
    for label, values in (
        ("frame showing the open -> order leaving Brute", frame_to_order),
        ("exchange open time -> order leaving Brute (incl. probe interval, 50 ms)", open_to_order),
    ):
        if values:
            print(
                f"{label}: n={len(values)} p50={statistics.median(values):.1f} ms "
                f"p99={_pct(values, 0.99):.1f} ms max={max(values):.1f} ms"
            )
