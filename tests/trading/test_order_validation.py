"""Every refusal order_place gives before it writes anything, each with its own code and reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import Role, User
from config.errors import BruteError
from tests.factories import UserFactory
from tests.trading.conftest import make_symbol
from trading import services
from trading.models import Balance, Order, TradingAccount

pytestmark = pytest.mark.django_db

LIMIT_BUY = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}


def refusal(user: User, **order: Any) -> BruteError:
    with pytest.raises(BruteError) as caught:
        services.order_place(user=user, **order)
    assert Order.objects.count() == 0
    return caught.value


@pytest.fixture(autouse=True)
def symbols(db: None) -> None:
    make_symbol("SOLUSDT")
    make_symbol("XRPUSDT", min_quantity="0.1", price_precision=4)
    make_symbol(
        "BTCUSDT", api_tradable=False, spot_allowed=False, quantity_precision=8, min_quantity="0.000001"
    )
    make_symbol("PAUSEUSDT", status="2")


@pytest.mark.parametrize(
    ("order", "code", "reason"),
    [
        ({**LIMIT_BUY, "symbol": "PAUSEUSDT"}, "symbol_not_trading", "PAUSEUSDT is not trading"),
        (
            {**LIMIT_BUY, "symbol": "BTCUSDT"},
            "api_trading_disabled",
            "MEXC does not allow API trading of BTCUSDT",
        ),
        ({**LIMIT_BUY, "symbol": "NOPEUSDT"}, "unknown_symbol", "NOPEUSDT is not a MEXC spot symbol"),
        (
            {**LIMIT_BUY, "symbol": "XRPUSDT", "quantity": "0.05"},
            "below_min_quantity",
            "minimum quantity on XRPUSDT is 0.1",
        ),
        (
            {**LIMIT_BUY, "quantity": "0.01", "price": "10"},
            "below_min_notional",
            "minimum order value on SOLUSDT is 1 USDT",
        ),
        ({**LIMIT_BUY, "quantity": "30000", "price": "100"}, "above_max_notional", "maximum order value"),
        (
            {**LIMIT_BUY, "quantity": "0.123"},
            "too_many_decimals",
            "quantity of a SOLUSDT order allows at most 2",
        ),
        ({**LIMIT_BUY, "price": "100.001"}, "too_many_decimals", "price of a SOLUSDT order allows at most 2"),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "0.5"},
            "below_min_notional",
            "minimum order value",
        ),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "200000"},
            "above_max_notional",
            "maximum order value",
        ),
        ({**LIMIT_BUY, "type": "IMMEDIATE_OR_CANCEL"}, "order_type_not_allowed", "IMMEDIATE_OR_CANCEL"),
        (
            {**LIMIT_BUY, "quantity": "200"},
            "insufficient_balance",
            "Not enough USDT: 10,000.00 available, 20,000.00 needed",
        ),
        ({**LIMIT_BUY, "side": "SELL"}, "insufficient_balance", "Not enough SOL"),
        (
            {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": "1", "quote_quantity": "5"},
            "validation_error",
            "not both",
        ),
        ({**LIMIT_BUY, "price": None}, "validation_error", "needs a price"),
        ({**LIMIT_BUY, "quantity": "-1"}, "validation_error", "positive"),
        ({**LIMIT_BUY, "side": "HOLD"}, "validation_error", "Unknown order side"),
    ],
)
def test_it_refuses_orders_with_a_reason(trader: User, order: dict[str, Any], code: str, reason: str) -> None:
    error = refusal(trader, **order)
    assert error.code == code
    assert reason in error.message


def test_it_refuses_viewers(db: None) -> None:
    viewer = UserFactory(role=Role.VIEWER)
    error = refusal(viewer, **LIMIT_BUY)
    assert (error.code, error.status) == ("viewer_cannot_trade", 403)


def test_live_trading_needs_verified_keys(trader: User) -> None:
    with pytest.raises(BruteError) as caught:
        services.trading_mode_set(user=trader, mode="live")
    assert caught.value.code == "live_requires_keys"
    # Even an account forced into live mode behind the service's back cannot place without keys.
    services.trading_account_get_or_create(user=trader)
    TradingAccount.objects.filter(user=trader).update(mode="live")
    assert refusal(trader, **LIMIT_BUY).code == "live_requires_keys"


@override_settings(MEXC_SIMULATED=True)
def test_live_trading_is_never_allowed_on_a_simulated_market(trader: User) -> None:
    with pytest.raises(BruteError) as caught:
        services.trading_mode_set(user=trader, mode="live")
    assert caught.value.code == "live_disabled_on_simulated_market"
    services.trading_account_get_or_create(user=trader)
    TradingAccount.objects.filter(user=trader).update(mode="live")
    assert refusal(trader, **LIMIT_BUY).code == "live_disabled_on_simulated_market"


def test_a_client_order_id_is_validated(trader: User) -> None:
    assert refusal(trader, **LIMIT_BUY, client_order_id="x" * 33).code == "validation_error"
    assert refusal(trader, **LIMIT_BUY, client_order_id="no spaces").code == "validation_error"


@pytest.mark.parametrize(
    ("asset", "free", "order", "words"),
    [
        ("USDT", "9975.000001158", {"side": "BUY", "type": "LIMIT", "quantity": "10000", "price": "100"},
         "Not enough USDT: 9,975.00 available, 1,000,000.00 needed"),
        ("USDT", "9975.999999", {"side": "BUY", "type": "LIMIT", "quantity": "100.01", "price": "99.99"},
         "Not enough USDT: 9,975.99 available, 10,000.00 needed"),
        ("SOL", "0.196134213835", {"side": "SELL", "type": "MARKET", "quantity": "5"},
         "Not enough SOL: 0.19 available, 5.00 needed"),
    ],
    ids=["market-buy-1000000", "limit-buy-needed-rounded-up", "sell"],
)  # fmt: skip
def test_a_shortfall_is_told_in_the_places_the_balance_line_shows_free_cut_down(
    trader: User, asset: str, free: str, order: dict[str, str], words: str
) -> None:
    services.trading_account_get_or_create(user=trader)
    Balance.objects.update_or_create(
        user=trader, mode="paper", asset=asset, defaults={"free": Decimal(free), "locked": Decimal(0)}
    )

    error = refusal(trader, symbol="SOLUSDT", **order)

    assert (error.code, error.message) == ("insufficient_balance", words)
