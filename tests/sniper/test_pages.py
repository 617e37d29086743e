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
from trading.models import Order
from trading.sniper.models import Listing, Position, Rule, RuleFiring

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


def _ladder(*rows: tuple[str, str]) -> dict[str, str]:
    data = {"tp-TOTAL_FORMS": "3", "tp-INITIAL_FORMS": "0", "tp-MIN_NUM_FORMS": "0", "tp-MAX_NUM_FORMS": "10"}
    for i, (gain, sell) in enumerate(rows):
        data |= {f"tp-{i}-gain_pct": gain, f"tp-{i}-sell_pct": sell}
    return data


def test_a_rule_is_created_and_bad_input_gets_clear_errors(client_of: Client, trader: User) -> None:
    bad = client_of.post(
        "/sniper/rules/new/",
        {"trigger": "price_above", "any_new_listing": "on", "amount": "0", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, **_ladder(("abc", "50"))},
    )  # fmt: skip
    text = bad.content.decode()
    assert bad.status_code == 400
    assert "The amount must be above 0." in text
    assert "Enter a number." in text

    ok = client_of.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "enabled": "on", "stop_loss_pct": "10",
         **_ladder(("5", "50"), ("10", "60"))},
    )  # fmt: skip
    assert "sells 110 % in total: at most 100 %" in ok.content.decode()
    assert not Rule.objects.exists()

    done = client_of.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "enabled": "on", **_ladder(("5", "50"))},
    )  # fmt: skip
    assert done.status_code == 302
    rule = Rule.objects.get(user=trader)
    assert rule.amount == Decimal("25")
    assert rule.take_profit == [{"gain_pct": "5", "sell_pct": "50"}]
    assert "any new listing" in client_of.get("/sniper/rules/").content.decode()
    edit = client_of.get(f"/sniper/rules/{rule.pk}/").content.decode()
    assert 'name="tp-0-gain_pct" value="5"' in edit


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


def opened_listing(symbol: str = "NEWUSDT") -> Listing:
    opens = timezone.now() - timedelta(seconds=5)
    return Listing.objects.create(
        symbol=symbol, base_asset="NEW", state=Listing.State.TRADING, expected_open=opens, opened_at=opens
    )


def test_the_listings_page_shows_a_refused_firing_with_its_reason(client_of: Client, trader: User) -> None:
    listing = opened_listing()
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"))
    RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="refused", status="failed",
        finished_at=timezone.now(),
        reason="NEWUSDT opened for trading; refused: The minimum order value on NEWUSDT is 5 USDT",
    )  # fmt: skip

    page = client_of.get("/sniper/listings/").content.decode()

    assert 'data-outcome="refused"' in page
    assert "refused: The minimum order value on NEWUSDT is 5 USDT" in page


def test_the_listings_page_shows_what_a_firing_bought_with_its_steps_and_latencies(
    client_of: Client, trader: User
) -> None:
    listing = opened_listing()
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"))
    order = Order.objects.create(
        user=trader, mode="live", symbol="NEWUSDT", side="BUY", type="LIMIT", client_order_id="snf1a1",
        status="FILLED", price=Decimal("0.52"), quantity=Decimal("38"), executed_qty=Decimal("38"),
        cummulative_quote_qty=Decimal("19.38"), avg_price=Decimal("0.51"),
    )  # fmt: skip
    seen = timezone.now().replace(microsecond=0)
    RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="buy", status="done", order=order,
        detected_at=seen, sent_at=seen + timedelta(microseconds=1500),
        accepted_at=seen + timedelta(microseconds=4000), filled_at=seen + timedelta(microseconds=4000),
    )  # fmt: skip

    page = client_of.get("/sniper/listings/").content.decode()

    assert 'data-outcome="bought"' in page
    assert "38 at 0.51 (Limit at 0.52, order filled)" in page
    assert f"detected {seen:%H:%M:%S}.000 UTC" in page
    assert "+1.5 ms" in page  # detected -> sent
    assert "+2.5 ms" in page  # sent -> accepted


def _step_names(page: str, *names: str) -> list[str]:
    """`names` in the order the page shows their timeline tags."""
    return sorted(names, key=lambda name: page.index(f'<span class="tag">{name} '))


def test_a_firings_steps_are_shown_by_time_to_the_millisecond_then_in_logical_order(
    client_of: Client, trader: User
) -> None:
    opens = timezone.now().replace(microsecond=0) - timedelta(seconds=5)  # so exchange stamps are whole ms
    listing = Listing.objects.create(
        symbol="NEWUSDT", base_asset="NEW", state=Listing.State.TRADING, expected_open=opens, opened_at=opens
    )
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"))
    ms = timedelta(milliseconds=1)
    # The exchange stamps its fill in whole milliseconds on its clock: 2 ms after the open, before our
    # clock saw its answer (2.6 ms), and a millisecond before the next firing's acceptance (4.4 ms).
    same_ms = RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="buy", status="done", open_at=opens,
        armed_at=opens - 30 * ms, sent_at=opens + 1.2 * ms, accepted_at=opens + 2.6 * ms,
        filled_at=opens + 2 * ms,
    )  # fmt: skip
    earlier_ms = RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="buy", status="done", open_at=opens,
        armed_at=opens - 30 * ms, sent_at=opens + 1.2 * ms, accepted_at=opens + 4.4 * ms,
        filled_at=opens + 3 * ms,
    )  # fmt: skip

    assert [name for name, _ in same_ms.steps] == ["armed", "sent", "accepted", "filled"]
    assert [name for name, _ in earlier_ms.steps] == ["armed", "sent", "filled", "accepted"]
    page = client_of.get("/sniper/listings/").content.decode()
    [first_row, second_row] = page.split('<tr class="firing-timeline"')[1:]
    assert _step_names(first_row, "sent", "accepted", "filled") == ["sent", "accepted", "filled"]
    assert _step_names(second_row, "sent", "filled", "accepted") == ["sent", "filled", "accepted"]
    assert 'filled T+3.0 ms</span> <span class="muted">+1.8 ms' in page  # the gap from "sent"


def test_a_listings_firings_are_listed_as_they_happened_not_as_stored(
    client_of: Client, trader: User
) -> None:
    listing = opened_listing()
    early = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"), name="early")
    late = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"), name="late")
    now = timezone.now()
    # Stored in the other order (the later-armed firing's row written first).
    RuleFiring.objects.create(rule=late, listing=listing, symbol="NEWUSDT", action="buy", at=now)
    RuleFiring.objects.create(
        rule=early, listing=listing, symbol="NEWUSDT", action="buy", at=now - timedelta(seconds=1)
    )

    listings_page = client_of.get("/sniper/listings/").content.decode()
    rules_page = client_of.get("/sniper/rules/").content.decode()

    assert listings_page.index("“early”") < listings_page.index("“late”")  # a timeline: oldest first
    firings = rules_page[rules_page.index("<h2>Firings</h2>") :]
    rule_cell = '<td data-label="Rule" class="wrap">'
    assert firings.index(f"{rule_cell}late") < firings.index(f"{rule_cell}early")  # the history: newest first


def test_the_rules_page_does_not_list_a_second_open_events_claim_as_a_firing(
    client_of: Client, trader: User
) -> None:
    listing = opened_listing()
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("20"))
    RuleFiring.objects.create(rule=rule, listing=listing, symbol="NEWUSDT", action="buy", status="done")
    RuleFiring.objects.create(
        rule=rule, listing=listing, symbol="NEWUSDT", action="duplicate", status="done",
        reason="another open event already claimed this rule for this listing",
    )  # fmt: skip

    page = client_of.get("/sniper/rules/").content.decode()

    assert "NEWUSDT" in page
    assert "Duplicate event" not in page
    assert "already claimed" not in page


@pytest.mark.parametrize("typed", ["-1", "0", "99999999999999999999999", "0.2"])
def test_a_close_quantity_outside_the_position_says_the_range_in_the_symbols_step(
    client_of: Client, trader: User, typed: str
) -> None:
    from trading.models import Symbol

    Symbol.objects.create(symbol="SOLUSDT", base_asset="SOL", quote_asset="USDT", quantity_precision=2)
    pos = Position.objects.create(
        user=trader, mode="paper", symbol="SOLUSDT", qty=Decimal("0.196134213835"), avg_entry=1
    )

    page = client_of.post(f"/sniper/positions/{pos.pk}/close/", {"quantity": typed}, follow=True)

    text = page.content.decode()
    assert "Sell more than 0 and at most 0.19 SOL, or leave the quantity empty to sell all." in text
    assert "0.196134213835" not in text
    assert "Enter a quantity" not in text
    assert not Order.objects.filter(user=trader).exists()
