"""Risk limits refuse buys with their reason (never sells); price alerts fire once until re-armed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from config.errors import BruteError
from tests.sniper.conftest import buys, open_now, rule_on
from trading.models import Fill, Order
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import AppliedFill, Listing, Position, PriceAlert, RiskLimits

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_rule_refused_by_risk_limits_logs_the_reason_and_notifies(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    RiskLimits.objects.create(user=live_trader, max_order_value=Decimal("20"))
    listing = listing_factory()
    rule_on(live_trader, amount=Decimal("50"))
    open_now(mexc, listing)

    [firing] = services.listing_fire(listing=listing)

    assert firing.status == "failed"
    assert firing.action == "refused"
    assert "Order value 50 is above your limit of 20" in firing.reason
    assert not buys(live_trader)
    assert (
        live_trader.notifications.get(kind="risk_refused").body == "Order value 50 is above your limit of 20"
    )


def test_a_price_alert_fires_once_until_it_is_rearmed(mexc: SimExchangeThread, live_trader: User) -> None:
    mexc.set_price("SOLUSDT", Decimal("100"))
    above = services.alert_create(user=live_trader, symbol="solusdt", kind="above", value=Decimal("120"))
    move = services.alert_create(user=live_trader, symbol="SOLUSDT", kind="move_pct", value=Decimal("15"))
    assert move.reference_price is not None

    assert services.monitor_tick(use_feed=False)["alerts"] == 0
    mexc.set_price("SOLUSDT", Decimal("125"))
    assert services.monitor_tick(use_feed=False)["alerts"] == 2
    assert services.monitor_tick(use_feed=False)["alerts"] == 0
    assert live_trader.notifications.filter(kind="price_alert").count() == 2
    above.refresh_from_db()
    assert not above.armed
    assert above.triggered_price is not None
    assert above.triggered_price >= 120

    services.alert_rearm(user=live_trader, alert=above)
    assert services.monitor_tick(use_feed=False)["alerts"] == 1
    assert PriceAlert.objects.filter(armed=True).count() == 0
    assert live_trader.notifications.filter(kind="price_alert").count() == 3
