"""A rule's max price as a hard cap: immediate-or-cancel (emulated where a symbol lists no IOC orders,
as every MEXC spot symbol does) and resting, on a listing's open and on a price trigger."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from accounts.models import User
from tests.sniper.conftest import buys, open_now, rule_on
from trading import services as trading
from trading.models import Fill, Order, Symbol
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import prices, services
from trading.sniper.models import Listing, Rule, RuleFiring
from trading.sniper.services.rules import rule_claim_market

pytestmark = pytest.mark.django_db(transaction=True)
CAP = Decimal("1.0007")


def rich(mexc: SimExchangeThread, user: User) -> None:
    mexc.set_balance("USDT", Decimal("100000"))
    trading.balances_sync(user_id=user.pk)


def sol_ask() -> Decimal:
    book = prices.book_fetch("SOLUSDT")
    assert book is not None
    assert book.best_ask is not None
    return book.best_ask.price


def fire_on_price(rule: Rule) -> RuleFiring:
    firing = rule_claim_market(rule=rule, reason="SOLUSDT crossed the trigger")
    assert firing is not None
    return services.firing_execute(firing_id=firing.pk)


def rule_note(user: User) -> str:
    return str(user.notifications.filter(kind="rule_fired").latest("pk").body)


def test_symbols_list_no_ioc_orders(live_trader: User, listing_factory: Callable[..., Listing]) -> None:
    listing = listing_factory()
    for name in ("SOLUSDT", listing.symbol):
        assert "IMMEDIATE_OR_CANCEL" not in Symbol.objects.get(symbol=name).order_types


def test_an_ioc_rule_buys_with_a_limit_at_the_cap_and_cancels_its_rest_on_a_listing(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    rich(mexc, live_trader)
    listing = listing_factory(price="1.0")
    rule = rule_on(live_trader, amount=Decimal("40000"), max_price=CAP)
    open_now(mexc, listing)

    [firing] = services.listing_fire(listing=listing)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    [order] = buys(live_trader)
    assert (order.type, order.price) == (Order.Type.LIMIT, CAP)
    # The book above the cap was not bought and nothing rests at the cap: the rest was cancelled.
    assert order.status in (Order.Status.PARTIALLY_CANCELED, Order.Status.CANCELED)
    fills = list(Fill.objects.filter(order=order))
    assert fills
    assert max(f.price for f in fills) <= CAP
    assert sum(f.quote_qty for f in fills) <= rule.amount
    assert [o["status"] for o in mexc.accepted_orders(listing.symbol)] == [order.status]
    note = rule_note(live_trader)
    assert "rest cancelled" in note
    assert "market orders" not in note


def test_an_ioc_rule_on_a_price_trigger_buys_and_leaves_nothing_resting(
    mexc: SimExchangeThread, live_trader: User
) -> None:
    rich(mexc, live_trader)
    cap = (sol_ask() * Decimal("1.01")).quantize(Decimal("0.01"))
    rule = Rule.objects.create(
        user=live_trader, symbol="SOLUSDT", trigger=Rule.Trigger.PRICE_ABOVE, trigger_value=Decimal("1"),
        amount=Decimal("50"), max_price=cap,
    )  # fmt: skip

    firing = fire_on_price(rule)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    [order] = buys(live_trader)
    assert (order.type, order.price) == (Order.Type.LIMIT, cap)
    assert not order.is_open
    assert order.executed_qty > 0
    # Its timeline for the listings page: when it left, when the exchange took it, when it filled.
    assert firing.sent_at is not None
    assert firing.accepted_at is not None
    assert firing.detected_at <= firing.sent_at <= firing.accepted_at
    assert firing.filled_at is not None


def test_an_ioc_rule_uses_the_exchanges_ioc_where_the_symbol_lists_it(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    rich(mexc, live_trader)
    listing = listing_factory(price="1.0")
    rule_on(live_trader, amount=Decimal("40000"), max_price=CAP)
    open_now(mexc, listing)
    with_ioc = ["LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL"]
    mexc.set_order_types(listing.symbol, with_ioc)  # the exchange refuses IOC where it is not listed
    Symbol.objects.filter(symbol=listing.symbol).update(order_types=with_ioc)

    [firing] = services.listing_fire(listing=listing)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    [order] = buys(live_trader)
    assert order.type == Order.Type.IMMEDIATE_OR_CANCEL
    assert not order.is_open
    assert "an immediate-or-cancel LIMIT at your max price 1.0007" in rule_note(live_trader)


def test_a_resting_rule_rests_at_its_max_price_below_the_listings_ask(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1.00")
    rule_on(live_trader, max_price=Decimal("0.5"), max_price_order=Rule.CapOrder.RESTING)
    open_now(mexc, listing)

    [firing] = services.listing_fire(listing=listing)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    [order] = buys(live_trader)
    assert (order.type, order.price, order.status) == (Order.Type.LIMIT, Decimal("0.5"), Order.Status.NEW)
    assert order.executed_qty == 0
    note = live_trader.notifications.filter(kind="rule_fired").latest("pk")
    assert "a resting LIMIT at your max price 0.5" in note.body
    assert "market orders" not in note.body
    assert "bought" not in note.title


def test_a_resting_rule_on_a_price_trigger_rests_below_the_ask(
    mexc: SimExchangeThread, live_trader: User
) -> None:
    cap = (sol_ask() / 2).quantize(Decimal("0.01"))
    rule = Rule.objects.create(
        user=live_trader, symbol="SOLUSDT", trigger=Rule.Trigger.PRICE_ABOVE, trigger_value=Decimal("1"),
        amount=Decimal("50"), max_price=cap, max_price_order=Rule.CapOrder.RESTING,
    )  # fmt: skip

    firing = fire_on_price(rule)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    [order] = buys(live_trader)
    assert (order.type, order.price, order.status) == (Order.Type.LIMIT, cap, Order.Status.NEW)


def test_a_limit_from_disabled_market_orders_says_so(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(market_orders=False, price="2")
    rule_on(live_trader, amount=Decimal("30"))
    open_now(mexc, listing)

    [firing] = services.listing_fire(listing=listing)

    assert firing.status == RuleFiring.Status.DONE, firing.reason
    note = rule_note(live_trader)
    assert "best ask + slippage (API market orders are disabled" in note
    assert "bought at" in note
