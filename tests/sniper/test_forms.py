"""Every sniper form's bad input through the pages: a message in words on the form, nothing saved, and
no database constraint's name ever shown. Also the ladder, soft delete and the positions page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import User
from tests.trading.conftest import make_symbol
from trading.feed.store import snapshot_write
from trading.models import RiskLimits, Symbol
from trading.sniper.forms import AlertForm, errors_in_words
from trading.sniper.models import Position, PriceAlert, Rule, RuleFiring

pytestmark = pytest.mark.django_db
LADDER = {"tp-TOTAL_FORMS": "2", "tp-INITIAL_FORMS": "0", "tp-MIN_NUM_FORMS": "0", "tp-MAX_NUM_FORMS": "10"}


@pytest.fixture
def client_of(client: Client, trader: User) -> Client:
    make_symbol("SOLUSDT")
    client.force_login(trader)
    return client


def _rule(**overrides: str) -> dict[str, str]:
    return {
        "symbol": "SOLUSDT", "trigger": "price_above", "trigger_value": "200", "amount": "25",
        "order_type": "MARKET", "window_minutes": "5", "cooldown_seconds": "60", "enabled": "on", **LADDER,
    } | overrides  # fmt: skip


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_rule(symbol="ABC"), "ABC is not a MEXC spot symbol."),
        (_rule(symbol="1E30"), "1E30 is not a MEXC spot symbol."),
        (_rule(symbol="1E30", trigger="listing_opens"), "does not end in a quote asset"),
        (_rule(symbol="🚀🚀"), "A symbol is letters and digits only"),
        (_rule(symbol=""), "Choose a symbol, or any new listing."),
        (_rule(stop_loss_pct="-5"), "The stop-loss is a percent between 0 and 100"),
        (_rule(stop_loss_pct="100"), "The stop-loss is a percent between 0 and 100"),
        (_rule(trailing_pct="-5"), "The trailing stop is a percent between 0 and 100"),
        (_rule(max_price="-5"), "The max price must be above 0."),
        (_rule(trigger_value="-5"), "The trigger value must be above 0."),
        (_rule(amount="0"), "The amount must be above 0."),
        (_rule(amount="abc"), "Enter a number."),
        (_rule(window_minutes="0"), "The window is at least 1 minute."),
        (_rule(**{"tp-0-gain_pct": "-5", "tp-0-sell_pct": "50"}), "The gain is a percent above 0"),
        (_rule(**{"tp-0-gain_pct": "5", "tp-0-sell_pct": "150"}), "Sell a share between 0 and 100 %."),
        (_rule(**{"tp-0-gain_pct": "5", "tp-0-sell_pct": "60", "tp-1-gain_pct": "9", "tp-1-sell_pct": "60"}),
         "sells 120 % in total"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_refused_in_words_and_not_saved(
    client_of: Client, data: dict[str, str], words: str
) -> None:
    response = client_of.post("/sniper/rules/new/", data)
    body = response.content.decode()
    assert response.status_code == 400
    assert words in body
    assert "Constraint" not in body
    assert not Rule.objects.exists()


def test_a_rule_for_a_coin_not_listed_yet_is_fine_when_it_waits_for_the_listing(client_of: Client) -> None:
    response = client_of.post("/sniper/rules/new/", _rule(symbol="newcoinusdt", trigger="listing_opens"))
    assert response.status_code == 302
    assert Rule.objects.get().symbol == "NEWCOINUSDT"


@pytest.mark.parametrize(
    ("symbol", "state"),
    [
        ("BTCUSDT", {"api_tradable": False}),  # online, but MEXC takes its orders only on its website
        ("SPOTOFFUSDT", {"spot_allowed": False}),
        ("PAUSEDUSDT", {"status": "2"}),
        ("CLOSEDUSDT", {"trade_sides": "4"}),
    ],
)
def test_a_price_rule_on_a_symbol_closed_to_api_orders_is_refused_in_words(
    client_of: Client, symbol: str, state: dict[str, object]
) -> None:
    make_symbol(symbol, **state)

    response = client_of.post("/sniper/rules/new/", _rule(symbol=symbol))

    assert response.status_code == 400
    words = f"{symbol} is not open to API orders on MEXC, so a rule cannot buy it."
    assert words in response.content.decode()
    assert not Rule.objects.exists()


def test_a_listing_rule_on_a_symbol_already_trading_is_refused_in_words(client_of: Client) -> None:
    response = client_of.post("/sniper/rules/new/", _rule(symbol="SOLUSDT", trigger="listing_opens"))

    assert response.status_code == 400
    assert "SOLUSDT is already trading: “Listing opens” would never fire." in response.content.decode()
    assert not Rule.objects.exists()


def test_a_listing_rule_whose_coin_has_opened_can_still_be_saved_disabled(client_of: Client) -> None:
    """An old "Listing opens" rule outlives its listing: switching it off must not need a new trigger."""
    data = _rule(symbol="SOLUSDT", trigger="listing_opens")
    del data["enabled"]

    response = client_of.post("/sniper/rules/new/", data)

    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.symbol, rule.enabled) == ("SOLUSDT", False)


def test_a_listing_rule_on_a_listed_symbol_not_open_yet_is_saved(client_of: Client) -> None:
    make_symbol("SOONUSDT", status="2", api_tradable=False)  # listed in exchangeInfo, opening later

    response = client_of.post("/sniper/rules/new/", _rule(symbol="SOONUSDT", trigger="listing_opens"))

    assert response.status_code == 302
    assert Rule.objects.get().symbol == "SOONUSDT"


def test_open_to_api_orders_is_what_the_symbol_itself_says() -> None:
    rows = [
        make_symbol("OPENUSDT"),
        make_symbol("BTCUSDT", api_tradable=False),
        make_symbol("SELLONLYUSDT", trade_sides="3"),
        make_symbol("CLOSEDUSDT", trade_sides="4"),
        make_symbol("OFFUSDT", status="3"),
    ]

    open_now = set(Symbol.objects.open_to_api_orders().values_list("symbol", flat=True))

    assert open_now == {"OPENUSDT", "SELLONLYUSDT"}
    assert open_now == {row.symbol for row in rows if row.is_trading and row.api_allowed}


@pytest.mark.parametrize(
    "field", ["max_order_value", "max_total_exposure", "max_open_positions", "daily_loss_limit"]
)
@pytest.mark.parametrize("value", ["-5", "0"])
def test_a_risk_limit_must_be_above_zero(client_of: Client, trader: User, field: str, value: str) -> None:
    response = client_of.post("/sniper/risk/", {field: value})
    body = response.content.decode()
    assert response.status_code == 400
    assert "must be above 0 (leave it empty for no limit)." in body
    assert not RiskLimits.objects.filter(user=trader).exists()


def test_a_bad_alert_says_so_once_in_words(client_of: Client, trader: User) -> None:
    zero = client_of.post(
        "/sniper/alerts/", {"symbol": "SOLUSDT", "kind": "above", "value": "0"}
    ).content.decode()
    unknown = client_of.post(
        "/sniper/alerts/", {"symbol": "ABC", "kind": "above", "value": "5"}
    ).content.decode()

    assert zero.count("The value must be above 0.") == 1
    assert "Constraint" not in zero
    assert "ABC is not a MEXC spot symbol." in unknown
    assert not PriceAlert.objects.exists()


def test_an_alert_on_the_wrong_side_of_the_price_says_it_would_fire_at_once(client_of: Client) -> None:
    snapshot_write(tickers={"SOLUSDT": {"price": "127.5"}}, books={}, watched=[])

    response = client_of.post("/sniper/alerts/", {"symbol": "SOLUSDT", "kind": "above", "value": "100"})

    assert response.status_code == 400
    assert "SOLUSDT is already at 127.5, above 100: it would fire at once." in response.content.decode()
    assert not PriceAlert.objects.exists()
    ok = client_of.post("/sniper/alerts/", {"symbol": "SOLUSDT", "kind": "below", "value": "100"})
    assert ok.status_code == 302


def test_a_constraint_that_still_fires_reads_as_words_once() -> None:
    form = AlertForm({"symbol": "SOLUSDT", "kind": "above", "value": "1"})
    form.is_valid()
    violated = ValidationError("Constraint “sniper_alert_value_gt_0” is violated.")
    errors_in_words(form, violated)
    errors_in_words(form, violated)
    assert list(form.errors["value"]).count("The value must be above 0.") == 1
    assert not any("Constraint" in e for errors in form.errors.values() for e in errors)


def test_deleting_a_rule_keeps_its_firings(client_of: Client, trader: User) -> None:
    rule = Rule.objects.create(user=trader, symbol="SOLUSDT", amount=Decimal(5), trigger="price_above")
    RuleFiring.objects.create(rule=rule, symbol="SOLUSDT", action="skip", reason="price above the cap")

    page = client_of.get("/sniper/rules/").content.decode()
    assert "data-confirm=" in page  # the browser asks first (static/js/app.js)
    client_of.post(f"/sniper/rules/{rule.pk}/delete/")

    rule.refresh_from_db()
    assert not rule.enabled
    assert rule.deleted_at is not None
    page = client_of.get("/sniper/rules/").content.decode()
    assert "price above the cap" in page
    assert "deleted" in page
    assert client_of.get(f"/sniper/rules/{rule.pk}/").status_code == 404


def test_positions_show_price_unrealised_pnl_and_protection(client_of: Client, trader: User) -> None:
    snapshot_write(tickers={"SOLUSDT": {"price": "110"}}, books={}, watched=[])
    Position.objects.create(
        user=trader, mode="paper", symbol="SOLUSDT", qty=Decimal(2), peak_qty=Decimal(2),
        avg_entry=Decimal("100.123456789012345678"), stop_loss_pct=Decimal(10),
        take_profit=[{"gain_pct": "20", "sell_pct": "50"}],
    )  # fmt: skip

    page = client_of.get("/sniper/positions/").content.decode()

    assert ">100.12<" in page  # the entry in SOLUSDT's 2 decimals, not 18
    assert ">110.00<" in page
    assert "19.75" in page  # (110 - 100.1234...) x 2
    assert "+9.86%" in page
    assert "Stop-loss -10 % (at 90.11)" in page
    assert "Take-profit +20 %: sell 50 % (at 120.15)" in page
    assert "data-confirm=" in page


def test_edit_forms_show_stored_decimals_normalized_not_with_18_zeros(trader: User) -> None:
    from tests.sniper.conftest import rule_on
    from trading.sniper.forms import RiskLimitsForm, RuleForm

    make_symbol("SOLUSDT")
    stored = rule_on(trader, amount=Decimal("20"), max_price=Decimal("0.06"))
    rule = Rule.objects.get(pk=stored.pk)  # read back: the column keeps 18 places
    assert rule.amount == Decimal("20.000000000000000000")
    rule_html = str(RuleForm(instance=rule))
    assert 'value="20"' in rule_html
    assert 'value="0.06"' in rule_html
    assert "000000000" not in rule_html
    RiskLimits.objects.create(user=trader, max_order_value=Decimal("30.5"))
    risk_html = str(RiskLimitsForm(instance=RiskLimits.objects.get(user=trader)))
    assert 'value="30.5"' in risk_html
    assert "000000000" not in risk_html


def test_a_bound_decimal_is_shown_back_as_typed() -> None:
    from trading.sniper.forms import CloseForm

    form = CloseForm(data={"quantity": "1.50"}, held=Decimal("2"), symbol=None)
    assert 'value="1.50"' in str(form["quantity"])
