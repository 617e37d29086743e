"""Positions from fills and their exits, driven by prices set on the exchange and the monitor's tick."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from accounts.models import User
from tests.sniper.conftest import open_now, rule_on
from trading import formatting
from trading import services as trading
from trading.models import Fill, Order, Symbol
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import AppliedFill, Listing, Position, PositionExit

pytestmark = pytest.mark.django_db(transaction=True)
LADDER = [{"gain_pct": "5", "sell_pct": "50"}, {"gain_pct": "10", "sell_pct": "50"}]


def bought(mexc: SimExchangeThread, user: User, listing: Listing, **plan: object) -> Position:
    rule_on(user, amount=Decimal("50"), **plan)
    open_now(mexc, listing)
    [firing] = services.listing_fire(listing=listing)
    assert firing.status == "done"
    return Position.objects.get(user=user, symbol=listing.symbol, status="open")


def tick() -> dict[str, int]:
    return services.monitor_tick(use_feed=False)


def test_fills_open_a_position_once_with_its_average_entry_and_the_rules_exit_plan(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1")
    pos = bought(mexc, live_trader, listing, stop_loss_pct=Decimal("10"), take_profit=LADDER)

    fills = Fill.objects.filter(order__user=live_trader)
    assert services.positions_sync() == 0  # every fill was applied once already
    assert AppliedFill.objects.count() == fills.count()
    cost = sum(f.quote_qty for f in fills)
    fee = sum(f.commission for f in fills if f.commission_asset == pos.symbol.removesuffix("USDT"))
    assert pos.qty == sum(f.qty for f in fills) - fee
    assert abs(pos.avg_entry - cost / pos.qty) < Decimal("1e-12")
    # The rule's exits protect what the rule bought: here all of the position.
    [plan] = pos.plans.all()
    assert plan.stop_loss_pct == Decimal("10")
    assert [level["done"] for level in plan.take_profit] == [False, False]
    assert plan.bought == pos.qty
    assert plan.entry == pos.avg_entry
    assert (pos.stop_loss_pct, pos.take_profit) == (None, [])  # nothing set by hand on the whole position
    assert live_trader.notifications.filter(kind="position_opened").count() == 1
    # Its numbers as the pages show them (trading.formatting), not the 18 decimals of the average entry:
    # the coin at its quantity step, the entry as an average (price precision + 4 at most).
    note = live_trader.notifications.get(kind="position_opened")
    symbol = Symbol.objects.get(symbol=pos.symbol)
    qty_text, price_text = note.body.split()[0].replace(",", ""), note.body.rsplit(" at ", 1)[1]
    assert note.body.split()[1] == symbol.base_asset
    assert -Decimal(qty_text).as_tuple().exponent <= symbol.quantity_precision  # type: ignore[operator]
    assert -Decimal(price_text).as_tuple().exponent <= symbol.price_precision + 4  # type: ignore[operator]
    assert abs(Decimal(price_text) - pos.avg_entry) <= Decimal(1).scaleb(-symbol.price_precision - 4)


def test_a_take_profit_ladder_sells_each_level_once_as_the_price_climbs(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1")
    pos = bought(mexc, live_trader, listing, take_profit=LADDER)
    entry, peak = pos.avg_entry, pos.peak_qty

    mexc.set_price(listing.symbol, entry * Decimal("1.07"))
    assert tick()["exits"] == 1
    assert tick()["exits"] == 0  # the level is done: never sold twice
    pos.refresh_from_db()
    [plan] = pos.plans.all()
    assert plan.take_profit[0]["done"]
    assert not plan.take_profit[1]["done"]
    assert abs(pos.qty - peak / 2) <= Decimal("0.01")

    mexc.set_price(listing.symbol, entry * Decimal("1.15"))
    assert tick()["exits"] == 1
    pos.refresh_from_db()
    assert pos.status == "closed"
    assert pos.qty < Decimal("0.01")
    assert pos.realised_pnl > 0
    exits = PositionExit.objects.filter(position=pos).order_by("at")
    assert [(e.kind, e.level) for e in exits] == [("take_profit", 0), ("take_profit", 1)]
    assert all(e.order is not None and e.order.source == Order.Source.POSITION for e in exits)
    assert live_trader.notifications.filter(kind="take_profit_hit").count() == 2


def test_a_stop_loss_sells_everything_when_the_price_falls_through_it(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1")
    pos = bought(mexc, live_trader, listing, stop_loss_pct=Decimal("10"), take_profit=LADDER)

    mexc.set_price(listing.symbol, pos.avg_entry * Decimal("0.97"))
    assert tick()["exits"] == 0
    mexc.set_price(listing.symbol, pos.avg_entry * Decimal("0.8"))
    assert tick()["exits"] == 1

    pos.refresh_from_db()
    assert pos.status == "closed"
    assert pos.realised_pnl < 0
    [exit] = PositionExit.objects.filter(position=pos)
    assert exit.kind == "stop_loss"
    assert exit.order is not None
    assert exit.order.side == "SELL"
    assert live_trader.notifications.filter(kind="stop_loss_hit").count() == 1


def test_a_stop_loss_notification_gives_the_fill_price_not_the_trigger_price(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    mexc.set_balance("USDT", Decimal("100000"))
    trading.balances_sync(user_id=live_trader.pk)
    listing = listing_factory(price="1")
    rule_on(live_trader, amount=Decimal("20000"), stop_loss_pct=Decimal("10"))
    open_now(mexc, listing)
    [firing] = services.listing_fire(listing=listing)
    assert firing.status == "done"
    pos = Position.objects.get(user=live_trader, symbol=listing.symbol, status="open")

    # A sell this size walks the bids below the price that triggered the stop.
    mexc.set_price(listing.symbol, pos.avg_entry * Decimal("0.8"))
    assert tick()["exits"] == 1

    [exit] = PositionExit.objects.filter(position=pos)
    assert exit.order is not None
    assert exit.order.avg_price is not None
    assert exit.trigger_price is not None
    assert exit.order.avg_price != exit.trigger_price
    [note] = live_trader.notifications.filter(kind="stop_loss_hit")
    # In the coin and the symbol's steps, not 18 decimals of NEWUSDT.
    symbol = Symbol.objects.get(symbol=pos.symbol)
    row = formatting.symbol_row(pos.symbol)
    sold, at = (
        formatting.quantity_text(exit.order.executed_qty, row),
        formatting.average_text(exit.order.avg_price, row),
    )
    assert sold.endswith(f" {symbol.base_asset}")
    assert note.body.startswith(f"Sold {sold} of rule ")
    assert f" at {at} (order " in note.body
    assert f"triggered at {exit.trigger_price.quantize(symbol.price_step).normalize():f}" in note.body


def test_a_restart_mid_position_keeps_the_trailing_stop_and_its_high_watermark(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1")
    pos = bought(mexc, live_trader, listing, trailing_pct=Decimal("10"))

    mexc.set_price(listing.symbol, pos.avg_entry * Decimal("1.3"))
    tick()
    [plan] = pos.plans.all()
    high = plan.high_watermark
    assert high is not None
    assert high > pos.avg_entry * Decimal("1.25")
    # A new process: nothing in memory, only the rows. The price falls 15% from the high.
    mexc.set_price(listing.symbol, high * Decimal("0.85"))
    assert tick()["exits"] == 1

    pos.refresh_from_db()
    assert pos.status == "closed"
    assert PositionExit.objects.get(position=pos).kind == "trailing"
    assert live_trader.notifications.filter(kind="trailing_stop_hit").count() == 1


def test_a_position_can_be_closed_by_hand_in_part_then_entirely(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1")
    pos = bought(mexc, live_trader, listing)
    held = pos.qty

    services.position_close(user=live_trader, position=pos, qty=Decimal("10"))
    pos.refresh_from_db()
    assert pos.status == "open"
    assert pos.qty == held - 10
    services.position_close(user=live_trader, position=pos)
    pos.refresh_from_db()
    assert pos.status == "closed"
    assert [e.kind for e in PositionExit.objects.filter(position=pos)] == ["manual", "manual"]
