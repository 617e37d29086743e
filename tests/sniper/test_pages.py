"""The sniper's pages through the test client: listings, rules CRUD with clear errors, scoped objects."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory
from trading.sniper.models import Listing, Position, Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_of(client: Client, trader: User) -> Client:
    client.force_login(trader)
    return client


def test_the_listings_page_shows_countdowns_with_the_utc_time(client_of: Client) -> None:
    Listing.objects.create(
        symbol="ABCUSDT", base_asset="ABC", expected_open=timezone.now() + timedelta(hours=2)
    )

    page = client_of.get("/sniper/listings/").content.decode()
    fragment = client_of.get("/sniper/listings/", headers={"HX-Request": "true"}).content.decode()

    assert "ABCUSDT" in page
    assert "data-open-at=" in page
    assert " UTC</time>" in page
    assert fragment.lstrip().startswith('<div id="board"')
    assert "ABCUSDT" in render_to_string("sniper/_upcoming.html")


def test_a_rule_is_created_and_bad_input_gets_clear_errors(client_of: Client, trader: User) -> None:
    bad = client_of.post(
        "/sniper/rules/new/",
        {"trigger": "price_above", "any_new_listing": "on", "amount": "0", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "take_profit": "[{"},
    )  # fmt: skip
    text = bad.content.decode()
    assert bad.status_code == 200
    assert "The amount must be above 0" in text
    assert "Not valid JSON" in text

    ok = client_of.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "enabled": "on", "stop_loss_pct": "10",
         "take_profit": '[{"gain_pct": 5, "sell_pct": 50}, {"gain_pct": 10, "sell_pct": 60}]'},
    )  # fmt: skip
    assert "sells more than 100% in total" in ok.content.decode()
    assert not Rule.objects.exists()

    done = client_of.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "enabled": "on",
         "take_profit": '[{"gain_pct": 5, "sell_pct": 50}]'},
    )  # fmt: skip
    assert done.status_code == 302
    rule = Rule.objects.get(user=trader)
    assert rule.amount == Decimal("25")
    assert rule.take_profit == [{"gain_pct": "5", "sell_pct": "50"}]
    assert "any new listing" in client_of.get("/sniper/rules/").content.decode()


def test_someone_elses_rule_and_position_look_missing(client_of: Client) -> None:
    other = UserFactory()
    rule = Rule.objects.create(user=other, any_new_listing=True, amount=Decimal("5"))
    pos = Position.objects.create(user=other, mode="paper", symbol="SOLUSDT", qty=1, avg_entry=1)

    assert client_of.get(f"/sniper/rules/{rule.pk}/").status_code == 404
    assert client_of.post(f"/sniper/rules/{rule.pk}/delete/").status_code == 404
    assert client_of.post(f"/sniper/positions/{pos.pk}/close/").status_code == 404
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_risk_limits_are_saved_from_their_page(client_of: Client, trader: User) -> None:
    response = client_of.post("/sniper/risk/", {"max_order_value": "100", "max_open_positions": "3"})

    assert response.status_code == 302
    assert trader.risk_limits.max_order_value == Decimal("100")
    assert trader.risk_limits.max_open_positions == 3
    assert client_of.get("/sniper/positions/").status_code == 200
    assert client_of.get("/sniper/alerts/").status_code == 200


def test_the_listings_page_shows_each_of_my_firings_timed_from_the_open(
    client_of: Client, trader: User
) -> None:
    from trading.sniper.models import RuleFiring

    opens = timezone.now() - timedelta(seconds=5)
    listing = Listing.objects.create(
        symbol="NEWUSDT", base_asset="NEW", state=Listing.State.TRADING, expected_open=opens, opened_at=opens
    )
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"))
    RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="buy", status="done", signal="clock",
        open_at=opens, armed_at=opens - timedelta(seconds=30), sent_at=opens + timedelta(microseconds=1200),
        accepted_at=opens + timedelta(microseconds=2500), filled_at=opens + timedelta(milliseconds=3),
    )  # fmt: skip
    other = UserFactory()
    other_rule = Rule.objects.create(user=other, any_new_listing=True, amount=Decimal("20"), name="theirs")
    RuleFiring.objects.create(rule=other_rule, listing=listing, symbol="NEWUSDT", action="buy", status="done")

    page = client_of.get("/sniper/listings/").content.decode()

    assert "armed T-30.00 s" in page
    assert "sent T+1.2 ms" in page
    assert "accepted T+2.5 ms" in page
    assert "filled T+3.0 ms" in page
    assert "sent on clock" in page
    assert "theirs" not in page
