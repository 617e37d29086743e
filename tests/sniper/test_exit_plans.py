"""A rule's exits sell only what that rule bought: one position per symbol holds the coins of every
rule and of manual buys, against the bundled exchange and the monitor's tick."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from tests.sniper.conftest import net_bought, open_now, rule_on
from trading import formatting
from trading import services as trading
from trading.models import Order, Symbol
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import ExitPlan, Listing, Position, PositionExit, Rule, RuleFiring
from trading.sniper.selectors import plan_unsold

pytestmark = pytest.mark.django_db(transaction=True)
LADDER = [{"gain_pct": "20", "sell_pct": "50"}, {"gain_pct": "50", "sell_pct": "50"}]


def tick() -> dict[str, int]:
    return services.monitor_tick(use_feed=False)


def funded(mexc: SimExchangeThread, user: User) -> None:
    mexc.set_balance("USDT", Decimal("100000"))
    trading.balances_sync(user_id=user.pk)


def fired(mexc: SimExchangeThread, listing: Listing, count: int) -> Position:
    open_now(mexc, listing)
    firings = services.listing_fire(listing=listing)
    assert [f.status for f in firings] == ["done"] * count
    return Position.objects.get(symbol=listing.symbol, status="open")


def bought_by(rule: Rule) -> Decimal:
    """What the rule's buy brought in, less the exchange's fee in the coin."""
    [firing] = RuleFiring.objects.filter(rule=rule, action="buy")
    assert firing.order is not None
    return net_bought(firing.order)


def exits_sold(plan: ExitPlan) -> Decimal:
    orders = [e.order for e in PositionExit.objects.filter(plan=plan)]
    return sum((o.executed_qty for o in orders if o is not None), Decimal(0))


def manual_buy(user: User, symbol: str, usdt: str) -> Order:
    order = trading.order_place(
        user=user, symbol=symbol, side="BUY", type="MARKET", quote_quantity=Decimal(usdt)
    )
    assert order.executed_qty > 0
    services.positions_sync()
    return order


def test_a_rules_stop_loss_sells_only_what_that_rule_bought_and_its_ladder_left(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing], client: Client
) -> None:
    funded(mexc, live_trader)
    listing = listing_factory(price="0.05")
    exp = rule_on(live_trader, name="exp", amount=Decimal("1000"))
    uni = rule_on(
        live_trader, name="unicode", amount=Decimal("10"), max_price=Decimal("0.1"), order_type="LIMIT"
    )
    tpsl = rule_on(
        live_trader, name="new tp/sl", amount=Decimal("25"), stop_loss_pct=Decimal("10"), take_profit=LADDER
    )
    pos = fired(mexc, listing, 3)
    [plan] = pos.plans.all()  # only the rule with exits has a plan
    assert plan.rule_id == tpsl.pk
    assert plan.bought == bought_by(tpsl) > 0
    others = bought_by(exp) + bought_by(uni)
    assert pos.qty > others  # the position holds every rule's coins
    symbol = Symbol.objects.get(symbol=listing.symbol)

    client.force_login(live_trader)
    page = client.get("/sniper/positions/").content.decode()
    whole = f"{plan.bought.quantize(symbol.quantity_step):f} {symbol.base_asset}"
    assert (
        f"Stop-loss -10 % (at {(plan.entry * Decimal('0.9')).quantize(symbol.price_step):f}) on {whole}"
        in page
    )
    assert "rule “new tp/sl” bought" in page
    assert "(the whole position)" not in page  # nothing protects the other rules' coins

    mexc.set_price(listing.symbol, plan.entry * Decimal("1.21"))
    assert tick()["exits"] == 1
    plan.refresh_from_db()
    assert [level["done"] for level in plan.take_profit] == [True, False]
    first = exits_sold(plan)
    assert abs(first - plan.bought / 2) <= symbol.quantity_step

    mexc.set_price(listing.symbol, plan.entry * Decimal("0.88"))
    before = Position.objects.get(pk=pos.pk).qty
    assert tick()["exits"] == 1
    assert tick()["exits"] == 0  # nothing of the rule is left to sell

    pos.refresh_from_db()
    stop = PositionExit.objects.get(plan=plan, kind="stop_loss")
    assert stop.order is not None
    assert stop.order.executed_qty <= plan.bought - first
    assert plan.bought - first - stop.order.executed_qty < symbol.quantity_step
    assert exits_sold(plan) <= plan.bought
    assert plan_unsold(plan=plan) < symbol.quantity_step
    # The other rules' coins, bought without a stop, are all still held.
    assert pos.status == "open"
    assert pos.qty == before - stop.order.executed_qty
    assert abs(pos.qty - others) < symbol.quantity_step * 2
    note = live_trader.notifications.get(kind="stop_loss_hit")
    sold = formatting.quantity_text(stop.order.executed_qty, symbol)
    assert sold.endswith(f" {symbol.base_asset}")
    assert note.body.startswith(f"Sold {sold} of rule “new tp/sl” at ")


def test_a_rules_stop_loss_never_sells_a_manual_buy(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    funded(mexc, live_trader)
    listing = listing_factory(price="1")
    rule = rule_on(live_trader, amount=Decimal("50"), stop_loss_pct=Decimal("10"))
    pos = fired(mexc, listing, 1)
    manual = manual_buy(live_trader, listing.symbol, "200")
    pos.refresh_from_db()
    [plan] = pos.plans.all()
    assert plan.bought == bought_by(rule) < pos.qty  # the manual buy joined the position, not the plan
    held = pos.qty

    mexc.set_price(listing.symbol, plan.entry * Decimal("0.85"))
    assert tick()["exits"] == 1
    assert tick()["exits"] == 0

    pos.refresh_from_db()
    [exit] = PositionExit.objects.filter(position=pos)
    assert (exit.kind, exit.plan_id) == ("stop_loss", plan.pk)
    assert exit.order is not None
    assert exit.order.executed_qty <= plan.bought
    assert pos.status == "open"
    assert pos.qty == held - exit.order.executed_qty
    assert abs(pos.qty - net_bought(manual)) < Decimal("0.02")


def test_a_rules_trailing_stop_never_sells_a_manual_buy(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    funded(mexc, live_trader)
    listing = listing_factory(price="1")
    rule = rule_on(live_trader, amount=Decimal("50"), trailing_pct=Decimal("10"))
    pos = fired(mexc, listing, 1)
    manual = manual_buy(live_trader, listing.symbol, "300")
    pos.refresh_from_db()
    [plan] = pos.plans.all()
    assert plan.bought == bought_by(rule) < pos.qty

    mexc.set_price(listing.symbol, plan.entry * Decimal("1.4"))
    assert tick()["exits"] == 0
    plan.refresh_from_db()
    assert plan.high_watermark is not None
    assert plan.high_watermark > plan.entry * Decimal("1.35")
    mexc.set_price(listing.symbol, plan.high_watermark * Decimal("0.85"))
    held = Position.objects.get(pk=pos.pk).qty
    assert tick()["exits"] == 1
    assert tick()["exits"] == 0

    pos.refresh_from_db()
    [exit] = PositionExit.objects.filter(position=pos)
    assert (exit.kind, exit.plan_id) == ("trailing", plan.pk)
    assert exit.order is not None
    assert exit.order.executed_qty <= plan.bought
    assert plan.bought - exit.order.executed_qty < Decimal("0.01")
    assert pos.status == "open"
    assert pos.qty == held - exit.order.executed_qty
    assert abs(pos.qty - net_bought(manual)) < Decimal("0.02")
    assert live_trader.notifications.filter(kind="trailing_stop_hit").count() == 1


def test_two_rules_stops_each_sell_their_own_coins(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    funded(mexc, live_trader)
    listing = listing_factory(price="1")
    tight = rule_on(live_trader, name="tight", amount=Decimal("40"), stop_loss_pct=Decimal("5"))
    loose = rule_on(live_trader, name="loose", amount=Decimal("60"), stop_loss_pct=Decimal("30"))
    pos = fired(mexc, listing, 2)
    plans = {plan.rule_id: plan for plan in pos.plans.all()}

    mexc.set_price(listing.symbol, plans[tight.pk].entry * Decimal("0.9"))
    assert tick()["exits"] == 1
    assert tick()["exits"] == 0  # the loose stop is not crossed: its coins stay
    pos.refresh_from_db()
    assert pos.status == "open"
    assert abs(pos.qty - plans[loose.pk].bought) < Decimal("0.01")
    [exit] = PositionExit.objects.filter(position=pos)
    assert exit.plan_id == plans[tight.pk].pk
    assert exit.order is not None
    assert exit.order.executed_qty <= bought_by(tight)
