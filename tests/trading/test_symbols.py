from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from config.errors import BruteError
from tests.conftest import free_port
from tests.factories import UserFactory
from trading import services
from trading.exchange.types import OrderType, Side
from trading.models import Symbol, SymbolEvent
from trading.services.orders import OrderInput
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db


def test_syncsymbols_loads_rules_with_the_misleading_names_decoded(mexc: SimExchangeThread) -> None:
    out = StringIO()
    call_command("syncsymbols", stdout=out)
    line = out.getvalue().strip()
    assert line.startswith("syncsymbols: ")
    assert "new" in line
    assert "\n" not in line
    sol = Symbol.objects.get(symbol="SOLUSDT")
    assert (sol.base_asset, sol.quote_asset, sol.status) == ("SOL", "USDT", "1")
    assert sol.api_tradable
    assert sol.spot_allowed
    # baseSizePrecision is the minimum quantity, quoteAmountPrecision the minimum notional.
    assert sol.min_quantity == Decimal("0.01")
    assert sol.min_notional == Decimal("1")
    assert (sol.quantity_precision, sol.price_precision) == (2, 2)
    assert sol.taker_commission == Decimal("0.0005")
    assert "MARKET" in sol.order_types
    assert not Symbol.objects.get(symbol="BTCUSDT").api_allowed
    assert SymbolEvent.objects.count() == 0  # the first sync is the baseline, not a wave of listings


def test_a_second_sync_with_nothing_new_changes_nothing(mexc: SimExchangeThread) -> None:
    services.symbols_sync()
    again = services.symbols_sync()
    assert (again.created, again.updated, again.events) == (0, 0, 0)


def test_a_new_listing_and_its_opening_are_recorded_as_events(mexc: SimExchangeThread) -> None:
    services.symbols_sync()
    mexc.add_listing("BRUTEUSDT", opens_at=mexc.now() + 3_600_000, price=Decimal("0.05"))

    result = services.symbols_sync()

    assert result.created == 1
    new = Symbol.objects.get(symbol="BRUTEUSDT")
    assert new.listed_at is not None
    assert not new.api_tradable
    event = SymbolEvent.objects.get(symbol="BRUTEUSDT")
    assert event.kind == SymbolEvent.Kind.NEW

    mexc.open_listing("BRUTEUSDT")
    services.symbols_sync()

    kinds = set(SymbolEvent.objects.filter(symbol="BRUTEUSDT").values_list("kind", "old", "new"))
    assert (SymbolEvent.Kind.API_TRADABLE, "false", "true") in kinds
    assert Symbol.objects.get(symbol="BRUTEUSDT").api_allowed


def test_syncsymbols_fails_with_one_readable_line_when_the_exchange_is_unreachable() -> None:
    with (
        override_settings(MEXC_BASE_URL=f"http://127.0.0.1:{free_port()}"),
        pytest.raises(CommandError) as caught,
    ):
        call_command("syncsymbols")
    message = str(caught.value)
    assert "Could not load symbols from MEXC" in message
    assert "\n" not in message
    assert Symbol.objects.count() == 0


@pytest.mark.parametrize("odd", ["4", None, ""])
def test_an_unknown_status_value_affects_that_symbol_only(mexc: SimExchangeThread, odd: str | None) -> None:
    services.symbols_sync()
    mexc.set_symbol_status("SOLUSDT", odd)

    result = services.symbols_sync()

    assert result.total == Symbol.objects.count()
    sol = Symbol.objects.get(symbol="SOLUSDT")
    assert sol.status == "0"
    assert not sol.is_trading  # shown, but not tradable
    assert Symbol.objects.get(symbol="BTCUSDT").status == "1"
    with pytest.raises(BruteError) as refused:
        services.order_validate(
            user=UserFactory(),
            mode="paper",
            symbol=sol,
            order=OrderInput("SOLUSDT", Side.BUY, OrderType.LIMIT, Decimal(1), None, Decimal(1)),
        )
    assert refused.value.code == "symbol_not_trading"
