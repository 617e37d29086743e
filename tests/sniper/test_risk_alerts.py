"""A rule refused by risk limits says why, and a rule's buy is checked once; price alerts fire once until
re-armed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.sniper.conftest import buys, open_now, rule_on
from trading.models import RiskLimits
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import Listing, PriceAlert, RuleFiring
from trading.sniper.services.arming import listing_arm

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_rule_s_buy_checks_the_risk_limits_once(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    RiskLimits.objects.create(user=live_trader, max_order_value=Decimal("1000"))
    listing = listing_factory()
    rule_on(live_trader, amount=Decimal("50"))
    open_now(mexc, listing)

    with CaptureQueriesContext(connection) as queries:
        [firing] = services.listing_fire(listing=listing)

    assert firing.status == "done"
    assert len(buys(live_trader)) == 1
    assert sum('FROM "sniper_risklimits"' in q["sql"] for q in queries.captured_queries) == 1


def test_arming_checks_the_limits_of_a_listing_s_armed_orders_together(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    RiskLimits.objects.create(user=live_trader, max_total_exposure=Decimal("50"))
    listing = listing_factory()
    rule_on(live_trader, amount=Decimal("30"))
    rule_on(live_trader, amount=Decimal("30"))

    plan = listing_arm(listing=listing, owner="p1")

    assert plan is not None
    assert (len(plan.orders), plan.refused) == (1, 1)
    [refused] = RuleFiring.objects.filter(listing=listing, action=RuleFiring.Action.REFUSED)
    assert refused.reason.endswith("Total exposure would be 60, above your limit of 50")
    assert live_trader.notifications.get(kind="risk_refused").title == f"Rule will not buy {listing.symbol}"


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
