"""A paper account reset takes the paper positions, and the exits planned on them, along with the coins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory
from trading import services as trading
from trading.models import Balance, Order
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import AppliedFill, Position, PositionExit
from trading.sniper.services.listings import symbol_refresh

pytestmark = pytest.mark.django_db(transaction=True)
LADDER = [{"gain_pct": "5", "sell_pct": "50"}]


def paper_buy(user: User, quote: str = "100") -> Order:
    return trading.order_place(user=user, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity=quote)


def protected_position(mexc: SimExchangeThread, user: User) -> Position:
    symbol_refresh(symbol="SOLUSDT")
    paper_buy(user)
    services.positions_sync(user_id=user.pk)
    pos = Position.objects.get(user=user, mode="paper", symbol="SOLUSDT", status="open")
    return services.position_protect(
        user=user, position=pos, stop_loss_pct=Decimal("10"), trailing_pct=Decimal("5"), take_profit=LADDER
    )


def test_a_reset_closes_the_paper_positions_and_drops_their_exit_plans(
    mexc: SimExchangeThread, trader: User
) -> None:
    pos = protected_position(mexc, trader)
    client = Client()
    client.force_login(trader)

    assert client.post("/settings/paper-reset").status_code == 302

    pos.refresh_from_db()
    assert pos.status == "closed"
    assert pos.closed_at is not None
    assert pos.qty == 0
    assert (pos.stop_loss_pct, pos.trailing_pct, pos.take_profit) == (None, None, [])
    assert not pos.protected
    # The stop-loss and the ladder would both have fired at these prices; nothing is sold.
    mexc.set_price("SOLUSDT", pos.avg_entry * Decimal("0.5"))
    assert services.monitor_tick(use_feed=False)["exits"] == 0
    mexc.set_price("SOLUSDT", pos.avg_entry * Decimal("2"))
    assert services.monitor_tick(use_feed=False)["exits"] == 0
    assert not PositionExit.objects.exists()
    assert not Order.objects.filter(user=trader, side="SELL").exists()
    assert Balance.objects.get(user=trader, mode="paper", asset="USDT").free == Decimal(10_000)


def test_a_buy_after_a_reset_opens_a_fresh_position_without_the_old_plan_or_entry(
    mexc: SimExchangeThread, trader: User
) -> None:
    old = protected_position(mexc, trader)
    unsynced = paper_buy(trader, quote="50")  # filled before the reset, not folded in yet

    trading.paper_account_reset(user=trader)
    assert AppliedFill.objects.filter(fill__order=unsynced, position=None).exists()
    mexc.set_price("SOLUSDT", old.avg_entry * 3)
    paper_buy(trader, quote="20")
    services.positions_sync(user_id=trader.pk)

    fresh = Position.objects.get(user=trader, mode="paper", symbol="SOLUSDT", status="open")
    assert fresh.pk != old.pk
    assert fresh.avg_entry > old.avg_entry * 2  # only the new buy, at the new price
    assert fresh.qty * fresh.avg_entry < Decimal(21)
    assert not fresh.protected


def test_a_reset_leaves_live_positions_and_other_users_alone(mexc: SimExchangeThread, trader: User) -> None:
    other = UserFactory()
    theirs = protected_position(mexc, other)
    live = Position.objects.create(
        user=trader, mode="live", symbol="SOLUSDT", qty=Decimal(1), peak_qty=Decimal(1),
        avg_entry=Decimal(100), stop_loss_pct=Decimal(10),
    )  # fmt: skip

    trading.paper_account_reset(user=trader)

    for pos in (theirs, live):
        pos.refresh_from_db()
        assert pos.status == "open"
        assert pos.stop_loss_pct == Decimal(10)


def test_after_a_reset_the_positions_page_no_longer_lists_the_old_paper_positions(
    mexc: SimExchangeThread, trader: User
) -> None:
    protected_position(mexc, trader)
    client = Client()
    client.force_login(trader)
    assert "SOLUSDT" in client.get("/sniper/positions/").content.decode()

    client.post("/settings/paper-reset")

    assert "SOLUSDT" not in client.get("/sniper/positions/").content.decode()
    paper_buy(trader)
    services.positions_sync(user_id=trader.pk)
    assert "SOLUSDT" in client.get("/sniper/positions/").content.decode()  # a new one is listed
