"""The trading core against the project's own MEXC server, over real sockets on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import User
from tests.factories import UserFactory
from trading import services
from trading.models import Symbol
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread


@pytest.fixture(autouse=True)
def _own_cache(settings: Any, tmp_path: Path) -> None:
    """Each test starts from an empty cache of the real kind (a file cache), in its own directory: the
    shared one under var/ handed feed snapshots (a SOLUSDT book) from one test to the next, and pytest-
    xdist's workers share it, so clearing it would empty another worker's mid-test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }


@pytest.fixture
def sim_config() -> SimConfig:
    # A book that stays still between our reads: fills can then be checked against it exactly.
    return SimConfig(
        tick_seconds=3600, push_seconds=3600, kline_push_seconds=3600, mini_ticker_push_seconds=3600
    )


@pytest.fixture
def mexc(sim_config: SimConfig) -> Iterator[SimExchangeThread]:
    with (
        SimExchangeThread(sim_config) as exchange,
        override_settings(MEXC_BASE_URL=exchange.base_url, MEXC_WS_URL=exchange.ws_url, MEXC_SIMULATED=False),
    ):
        yield exchange


@pytest.fixture
def synced(mexc: SimExchangeThread, db: None) -> SimExchangeThread:
    services.symbols_sync()
    return mexc


@pytest.fixture
def trader(db: None) -> User:
    return UserFactory()


@pytest.fixture
def other_trader(db: None) -> User:
    return UserFactory()


@pytest.fixture
def live_trader(synced: SimExchangeThread, trader: User) -> User:
    services.api_credential_save(user=trader, api_key=synced.api_key, api_secret=synced.api_secret)
    services.trading_mode_set(user=trader, mode="live")
    return trader


@pytest.fixture
def btc(synced: SimExchangeThread) -> Symbol:
    return Symbol.objects.get(symbol="BTCUSDT")


def money(value: str | int) -> Decimal:
    return Decimal(str(value))


def make_symbol(symbol: str = "SOLUSDT", **overrides: object) -> Symbol:
    """A symbol row shaped like MEXC's SOLUSDT: 2 decimals each way, min 0.01 SOL and 1 USDT."""
    fields: dict[str, object] = {
        "base_asset": symbol.removesuffix("USDT"),
        "quote_asset": "USDT",
        "status": "1",
        "api_tradable": True,
        "spot_allowed": True,
        "price_precision": 2,
        "quantity_precision": 2,
        "min_quantity": Decimal("0.01"),
        "min_notional": Decimal("1"),
        "min_notional_market": Decimal("1"),
        "max_notional": Decimal("2000000"),
        "max_notional_market": Decimal("100000"),
        "maker_commission": Decimal("0"),
        "taker_commission": Decimal("0.0005"),
        "order_types": ["LIMIT", "LIMIT_MAKER", "MARKET"],
    }
    fields.update(overrides)
    return Symbol.objects.create(symbol=symbol, **fields)
