"""Positions opened before exit plans: the migration gives each rule with exits its own plan, sized
on what that rule's fills brought in, and takes the rules' stop off the whole position."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory
from tests.trading.conftest import make_symbol
from trading.models import Fill, Order
from trading.sniper.models import AppliedFill, Position, PositionExit, Rule, RuleFiring
from trading.sniper.selectors import plan_unsold

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("sniper", "0006_exit_plans")]
AFTER = [("sniper", "0007_rule_exits_into_plans")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def bought(pos: Position, rule: Rule, qty: str, price: str) -> Order:
    firing = RuleFiring.objects.create(rule=rule, symbol=pos.symbol, action="buy")
    order = Order.objects.create(
        user=pos.user, mode="live", symbol=pos.symbol, side="BUY", type="MARKET", status="FILLED",
        client_order_id=firing.client_order_id(1), quantity=Decimal(qty), executed_qty=Decimal(qty),
    )  # fmt: skip
    fill = Fill.objects.create(
        order=order, trade_id=f"t{order.pk}", price=Decimal(price), qty=Decimal(qty),
        quote_qty=Decimal(qty) * Decimal(price), commission=Decimal("0.5"), commission_asset="NEW",
    )  # fmt: skip
    AppliedFill.objects.create(fill=fill, position=pos, user=pos.user)
    return order


def test_a_legacy_position_gets_one_plan_per_rule_with_exits_and_loses_the_merged_stop() -> None:
    migrate(BEFORE)
    make_symbol("NEWUSDT", price_precision=4, quantity_precision=2)
    user = UserFactory()
    bare = Rule.objects.create(user=user, symbol="NEWUSDT", amount=Decimal(1000))
    tpsl = Rule.objects.create(
        user=user, symbol="NEWUSDT", amount=Decimal(25), stop_loss_pct=Decimal(10),
        take_profit=[{"gain_pct": "20", "sell_pct": "50"}, {"gain_pct": "50", "sell_pct": "50"}],
    )  # fmt: skip
    merged = {"rule": tpsl.pk, "basis": "499.5", "entry": "0.05"}  # how the ladder was merged in
    pos = Position.objects.create(
        user=user, mode="live", symbol="NEWUSDT", qty=Decimal("40176.5"), peak_qty=Decimal("40427"),
        avg_entry=Decimal("0.025"), rule=bare, stop_loss_pct=Decimal(10), high_watermark=Decimal("0.0605"),
        take_profit=[
            {"gain_pct": "20", "sell_pct": "50", "done": True, **merged},
            {"gain_pct": "50", "sell_pct": "50", "done": False, **merged},
        ],
    )  # fmt: skip
    bought(pos, bare, "39927.5", "0.025")
    bought(pos, tpsl, "500", "0.05")
    sold = Order.objects.create(
        user=user, mode="live", symbol="NEWUSDT", side="SELL", type="MARKET", status="FILLED",
        client_order_id=f"snx{pos.pk}n1", quantity=Decimal("249.75"), executed_qty=Decimal("249.75"),
    )  # fmt: skip
    PositionExit.objects.create(position=pos, kind="take_profit", level=0, qty=Decimal("249.75"),
                                client_order_id=f"snx{pos.pk}n1", order=sold)  # fmt: skip

    migrate(AFTER)

    pos.refresh_from_db()
    assert (pos.stop_loss_pct, pos.trailing_pct, pos.take_profit) == (None, None, [])
    [plan] = pos.plans.all()
    assert plan.rule_id == tpsl.pk
    assert plan.bought == Decimal("499.5")  # its fill less the fee in NEW
    assert plan.entry == (Decimal("0.05") * 500 / Decimal("499.5")).quantize(Decimal("1e-18"))
    assert plan.stop_loss_pct == Decimal(10)
    assert [level["done"] for level in plan.take_profit] == [True, False]
    assert PositionExit.objects.get(position=pos).plan_id == plan.pk  # its ladder's sale counts
    assert plan_unsold(plan=plan) == Decimal("249.75")
