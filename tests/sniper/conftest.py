"""The sniper against the project's own MEXC server over real sockets on loopback.

Only the symbols a test needs are loaded (`symbol_refresh`), not the whole exchangeInfo. The feed's
ticker snapshot lives in a private in-memory cache here, so prices come from the server itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory
from trading import services as trading
from trading.models import Order, Symbol
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.models import Listing, Rule
from trading.sniper.services.listings import symbol_refresh

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sniper"}}


@pytest.fixture
def sim_config() -> SimConfig:
    # Listings open on the server's tick; no simulated takers, so prices move only when a test says.
    return SimConfig(
        tick_seconds=0.05,
        push_seconds=3600,
        kline_push_seconds=3600,
        mini_ticker_push_seconds=3600,
        taker_orders_per_second=0.0,
    )


@pytest.fixture
def mexc(sim_config: SimConfig) -> Iterator[SimExchangeThread]:
    with (
        SimExchangeThread(sim_config) as exchange,
        override_settings(
            MEXC_BASE_URL=exchange.base_url,
            MEXC_WS_URL=exchange.ws_url,
            MEXC_SIMULATED=False,
            CACHES=LOCMEM,
            SNIPER_RETRY_S=8.0,
            MEXC_CALENDAR_URL="http://127.0.0.1:9/calendar",
            SNIPER_RETRY_INTERVAL_MS=50,
        ),
    ):
        yield exchange


@pytest.fixture
def trader(db: None) -> User:
    return UserFactory()


@pytest.fixture
def live_trader(mexc: SimExchangeThread, trader: User) -> User:
    symbol_refresh(symbol="SOLUSDT")
    trading.api_credential_save(user=trader, api_key=mexc.api_key, api_secret=mexc.api_secret)
    trading.trading_mode_set(user=trader, mode="live")
    return trader


@pytest.fixture
def listing_factory(mexc: SimExchangeThread) -> Callable[..., Listing]:
    counter = iter(range(1, 1000))

    def make(*, opens_in_ms: int = 60_000, price: str = "0.5", market_orders: bool = True) -> Listing:
        symbol = f"NEW{next(counter)}USDT"
        mexc.add_listing(
            symbol,
            opens_at=mexc.now() + opens_in_ms,
            price=Decimal(price),
            api_market_orders=market_orders,
        )
        symbol_refresh(symbol=symbol)
        return Listing.objects.create(
            symbol=symbol,
            base_asset=symbol.removesuffix("USDT"),
            state=Listing.State.LISTED,
            expected_open=timezone.now() + timedelta(milliseconds=opens_in_ms),
        )

    return make


def rule_on(user: User, **fields: object) -> Rule:
    values: dict[str, object] = {"any_new_listing": True, "amount": Decimal("50")}
    values.update(fields)
    return Rule.objects.create(user=user, **values)


def buys(user: User) -> list[Order]:
    return list(Order.objects.filter(user=user, side="BUY").exclude(status=Order.Status.REJECTED))


def net_bought(order: Order) -> Decimal:
    """What an order's fills brought in, less the fee the exchange took in the coin itself."""
    base = Symbol.objects.get(symbol=order.symbol).base_asset
    fills = order.fills.all()
    return sum((f.qty - (f.commission if f.commission_asset == base else 0) for f in fills), Decimal(0))


def open_now(mexc: SimExchangeThread, listing: Listing) -> Symbol:
    mexc.open_listing(listing.symbol)
    row = symbol_refresh(symbol=listing.symbol)
    assert row is not None
    assert row.is_trading
    assert row.api_allowed
    return row


def later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer
