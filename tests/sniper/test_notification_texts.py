"""The numbers in notification and timeline texts, for a realistic long-decimal fill: quantities in the
base asset cut to the symbol's quantity precision, prices at its price precision, an average fill price
cut to price precision + 4 (as the API gives it), quote amounts with their asset and thousands grouped."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from accounts.notifications.models import Notification
from trading.models import Order, Symbol
from trading.services.userstream import order_filled_notify
from trading.sniper.models import PriceAlert, Rule
from trading.sniper.services.alerts import alert_fire
from trading.sniper.services.rules import firing_order_story, firing_title

pytestmark = pytest.mark.django_db
QTY = Decimal("19998.99525397")
AVERAGE = Decimal("0.050002511991246456")  # cummulative quote / executed quantity, 18 decimals


@pytest.fixture
def new(db: None) -> Symbol:
    return Symbol.objects.create(
        symbol="NEWUSDT", base_asset="NEW", quote_asset="USDT", price_precision=6, quantity_precision=2
    )


def filled(user: User, *, type: str = "MARKET", price: Decimal | None = None) -> Order:
    return Order.objects.create(
        user=user, mode="live", symbol="NEWUSDT", side="BUY", type=type, status="FILLED",
        client_order_id="snf7a1", price=price, quote_quantity=Decimal("1000"), executed_qty=QTY,
        cummulative_quote_qty=Decimal("999.99999998"), avg_price=AVERAGE,
    )  # fmt: skip


def test_an_order_filled_notification_shows_base_quantity_and_cut_average(trader: User, new: Symbol) -> None:
    order_filled_notify(filled(trader))

    note = Notification.objects.get(user=trader, kind="order_filled")
    assert note.title == "BUY NEWUSDT filled"
    assert note.body == "Buy 19,998.99 NEW at 0.0500025119 (live, market)."


def test_a_firing_story_shows_the_quote_amount_and_the_fill(trader: User, new: Symbol) -> None:
    rule = Rule.objects.create(user=trader, symbol="NEWUSDT", amount=Decimal("1000"))

    assert firing_order_story(rule=rule, order=filled(trader)) == (
        "a market buy of up to 1,000.00 USDT; "
        "order snf7a1 filled, 19,998.99 NEW bought at 0.0500025119 on average"
    )


def test_a_firing_story_shows_a_limit_price_at_price_precision(trader: User, new: Symbol) -> None:
    rule = Rule.objects.create(user=trader, symbol="NEWUSDT", amount=Decimal("1000"), order_type="LIMIT")
    order = filled(trader, type="LIMIT", price=Decimal("0.0501"))

    assert firing_order_story(rule=rule, order=order) == (
        "a LIMIT at 0.050100, best ask + slippage; "
        "order snf7a1 filled, 19,998.99 NEW bought at 0.0500025119 on average"
    )


def test_a_firing_title_names_the_base_asset_bought(trader: User, new: Symbol) -> None:
    assert firing_title(symbol="NEWUSDT", order=filled(trader)) == "Rule fired: bought 19,998.99 NEW"


def test_an_alert_shows_prices_at_price_precision(trader: User, new: Symbol) -> None:
    alert = PriceAlert.objects.create(user=trader, symbol="NEWUSDT", kind="above", value=Decimal("0.05"))

    assert alert_fire(alert=alert, price=AVERAGE)

    note = Notification.objects.get(user=trader, kind="price_alert")
    assert (note.title, note.body) == ("NEWUSDT at 0.050003", "Alert price above 0.050000 crossed.")


def test_a_move_alert_shows_its_percent_and_reference_price(trader: User, new: Symbol) -> None:
    alert = PriceAlert.objects.create(
        user=trader,
        symbol="NEWUSDT",
        kind="move_pct",
        value=Decimal("5.00"),
        reference_price=Decimal("1234.5"),
    )

    assert alert_fire(alert=alert, price=Decimal("1296.225000001"))

    note = Notification.objects.get(user=trader, kind="price_alert")
    assert note.title == "NEWUSDT at 1,296.225000"
    assert note.body == "Alert moves by % (either way) 5% from 1,234.500000 crossed."
