"""Risk limits refuse buys with their reason, never sells; the positions they read come from the sniper."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from accounts.models import User
from config.errors import BruteError
from config.fields import encode
from tests.config.conftest import settings_for
from trading import positions, services
from trading.models import Fill, Order, RiskLimits
from trading.services.risk import risk_limits_of
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.models import AppliedFill, Position


def refusal(user: User, symbol: str = "SOLUSDT", side: str = "BUY", notional: str = "100") -> str:
    with pytest.raises(BruteError) as caught:
        services.risk_check(user=user, symbol=symbol, side=side, notional=Decimal(notional))
    assert caught.value.code == "risk_limit"
    return caught.value.message


def position(user: User, symbol: str, qty: str, entry: str) -> Position:
    return Position.objects.create(
        user=user,
        mode="paper",
        symbol=symbol,
        qty=Decimal(qty),
        peak_qty=Decimal(qty),
        avg_entry=Decimal(entry),
    )


@pytest.mark.django_db
def test_each_risk_limit_refuses_a_buy_with_its_reason(trader: User) -> None:
    RiskLimits.objects.create(user=trader, max_order_value=Decimal("500"))
    assert refusal(trader, notional="600") == "Order value 600 is above your limit of 500"
    services.risk_check(user=trader, symbol="SOLUSDT", side="BUY", notional=Decimal("400"))

    RiskLimits.objects.filter(user=trader).update(max_order_value=None, max_open_positions=2)
    position(trader, "AUSDT", "10", "1")
    position(trader, "BUSDT", "10", "1")
    assert refusal(trader) == "Already 2 open positions (limit 2)"
    services.risk_check(user=trader, symbol="AUSDT", side="BUY", notional=Decimal("5"))  # adds to one

    RiskLimits.objects.filter(user=trader).update(max_open_positions=None, max_total_exposure=Decimal("100"))
    assert refusal(trader, notional="81") == "Total exposure would be 101, above your limit of 100"


@pytest.mark.django_db
def test_the_daily_loss_limit_stops_buys_for_the_day_but_never_sells(trader: User) -> None:
    RiskLimits.objects.create(user=trader, daily_loss_limit=Decimal("50"))
    order = Order.objects.create(
        user=trader,
        mode="paper",
        symbol="SOLUSDT",
        side="SELL",
        type="MARKET",
        quantity=1,
        client_order_id="x1",
    )
    for n, (loss, days_ago) in enumerate([("-30", 0), ("-25", 0), ("-500", 1)]):
        fill = Fill.objects.create(order=order, trade_id=str(n), price=1, qty=1, quote_qty=1)
        at = timezone.now() - timedelta(days=days_ago)
        AppliedFill.objects.create(fill=fill, user=trader, realised=Decimal(loss), at=at)

    assert refusal(trader, notional="1").startswith("Daily loss limit reached: 55 lost today (limit 50)")
    services.risk_check(user=trader, symbol="SOLUSDT", side="SELL", notional=Decimal("1000"))


@pytest.mark.django_db
def test_limits_on_positions_fail_loudly_without_the_sniper_s_position_book(
    trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    RiskLimits.objects.create(user=trader, max_open_positions=1)
    monkeypatch.setattr(positions, "_book", None)
    with pytest.raises(ImproperlyConfigured):
        services.risk_check(user=trader, symbol="SOLUSDT", side="BUY", notional=Decimal("1"))


@pytest.mark.django_db
def test_limits_are_kept_by_user_and_a_saved_limit_is_validated(trader: User) -> None:
    services.risk_limits_save(user=trader, max_order_value=Decimal("100"), max_open_positions=3)
    assert trader.risk_limits.max_order_value == Decimal("100")
    with pytest.raises(ValidationError) as caught:
        services.risk_limits_save(user=trader, max_open_positions=-1)
    assert "max_open_positions" in caught.value.message_dict


def test_limits_saved_under_the_sniper_survive_the_move_to_the_core(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    connections.settings["moved"] = {**settings_for(str(tmp_path / "old.db")), "ENGINE": "config.sqlite"}
    try:
        with django_db_blocker.unblock():
            call_command("migrate", "sniper", "0004", database="moved", interactive=False, verbosity=0)
            call_command("migrate", "accounts", database="moved", interactive=False, verbosity=0)
            user = User.objects.db_manager("moved").create_user("old@example.com", "correct horse battery")
            with connections["moved"].cursor() as cursor:
                cursor.execute(
                    "INSERT INTO sniper_risklimits (user_id, max_order_value, max_open_positions, updated) "
                    "VALUES (%s, %s, 3, '2026-01-01 00:00:00')",
                    [user.pk, encode(Decimal("250.5"))],
                )
            call_command("migrate", database="moved", interactive=False, verbosity=0)
            limits = RiskLimits.objects.using("moved").get(user_id=user.pk)
    finally:
        connections["moved"].close()
        del connections["moved"]
        del connections.settings["moved"]

    assert (limits.max_order_value, limits.max_open_positions, limits.daily_loss_limit) == (
        Decimal("250.5"),
        3,
        None,
    )


@pytest.mark.django_db
def test_back_to_back_buys_cannot_pass_the_exposure_limit_before_the_periodic_sync(
    synced: SimExchangeThread, trader: User
) -> None:
    # The trial's case: buys one after another, each under the limit alone; the fills of the first
    # must count against the second at once, not when the sniper's periodic sync folds them in.
    RiskLimits.objects.create(user=trader, max_total_exposure=Decimal("70"))
    first = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="40"
    )
    assert first.status == "FILLED"
    assert not AppliedFill.objects.filter(user=trader).exists()  # nothing folded it in yet

    with pytest.raises(BruteError) as caught:
        services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="40")

    assert caught.value.code == "risk_limit"
    assert caught.value.message.startswith("Total exposure would be 8")  # about 80 with fees, above 70
    assert Order.objects.filter(user=trader).count() == 1


def test_limits_are_read_exactly_and_at_once_for_their_own_user(trader: User, django_user_model: Any) -> None:
    other = django_user_model.objects.create_user("other@example.com", "correct horse battery")
    RiskLimits.objects.create(user=other, max_order_value=Decimal("1"))
    services.risk_check(user=trader, symbol="SOLUSDT", side="BUY", notional=Decimal("5"))  # not theirs

    # Written as another process would (no model save, no signal): the next check applies it.
    RiskLimits.objects.create(user=trader)
    RiskLimits.objects.filter(user=trader).update(max_order_value=Decimal("12345672.123456780000000001"))
    assert risk_limits_of(trader.pk) == (Decimal("12345672.123456780000000001"), None, None, None)
    services.risk_check(
        user=trader, symbol="SOLUSDT", side="BUY", notional=Decimal("12345672.123456780000000001")
    )
    assert refusal(trader, notional="12345672.123456780000000002").startswith("Order value")
