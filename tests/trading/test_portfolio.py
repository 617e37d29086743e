"""Today's P&L: the value now against the value at 00:00 UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from accounts.models import User
from trading import services
from trading.feed.store import snapshot_write
from trading.models import Balance, PortfolioSnapshot, TradingAccount
from trading.portfolio import portfolio_for_user

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def snapshot(user: User, when: datetime, value: str, mode: str = "paper") -> None:
    PortfolioSnapshot.objects.create(user=user, mode=mode, at=when, value=Decimal(value))


def holding_usdt(user: User, amount: str) -> None:
    Balance.objects.filter(user=user, mode="paper", asset="USDT").update(free=Decimal(amount))


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def paper(trader: User, clock: time_machine.Coordinates) -> User:
    services.trading_account_get_or_create(user=trader)  # 10,000 USDT, the only holding
    return trader


def test_the_baseline_is_the_last_snapshot_at_or_before_midnight_utc(paper: User) -> None:
    snapshot(paper, at(22, day=9), "9000")
    snapshot(paper, at(23, 55, day=9), "9500")
    snapshot(paper, at(0, 5), "9800")
    snapshot(paper, at(11), "9900")

    assert portfolio_for_user(user=paper).day_pnl == Decimal("500.00")

    snapshot(paper, at(0, 0), "9700")  # exactly at midnight: the day's own start
    assert portfolio_for_user(user=paper).day_pnl == Decimal("300.00")


def test_an_account_first_valued_today_counts_from_its_first_snapshot(paper: User) -> None:
    snapshot(paper, at(3), "9600")
    snapshot(paper, at(9), "9900")
    assert portfolio_for_user(user=paper).day_pnl == Decimal("400.00")


def test_no_snapshot_means_no_days_change(paper: User) -> None:
    assert portfolio_for_user(user=paper).day_pnl is None


def test_a_reset_today_counts_from_the_balance_it_started_again_with(
    paper: User, clock: time_machine.Coordinates
) -> None:
    snapshot(paper, at(23, 55, day=9), "25000")
    snapshot(paper, at(6), "24000")
    clock.move_to(at(10))
    services.paper_account_reset(user=paper, starting_balance=Decimal(5000))
    snapshot(paper, at(10, 5), "5000")
    clock.move_to(NOON)
    holding_usdt(paper, "5200")

    today = portfolio_for_user(user=paper)
    assert (today.day_pnl, today.day_since) == (Decimal("200.00"), "the reset at 10:00 UTC")
    client = Client()
    client.force_login(paper)
    page = client.get("/portfolio/").content.decode()
    assert "since the reset at 10:00 UTC" in page
    assert "since 00:00 UTC" not in page


def test_a_reset_after_the_last_snapshot_before_midnight_counts_from_its_balance(
    paper: User, clock: time_machine.Coordinates
) -> None:
    snapshot(paper, at(22, day=9), "25000")
    clock.move_to(at(23, 30, day=9))
    services.paper_account_reset(user=paper)
    clock.move_to(NOON)
    holding_usdt(paper, "9950")

    today = portfolio_for_user(user=paper)
    assert (today.day_pnl, today.day_since) == (Decimal("-50.00"), "00:00 UTC")


def test_a_reset_before_the_midnight_snapshot_leaves_that_snapshot_the_baseline(
    paper: User, clock: time_machine.Coordinates
) -> None:
    clock.move_to(at(20, day=9))
    services.paper_account_reset(user=paper)
    snapshot(paper, at(23, 55, day=9), "10100")
    clock.move_to(NOON)
    holding_usdt(paper, "10000")

    assert portfolio_for_user(user=paper).day_pnl == Decimal("-100.00")


def test_a_paper_reset_today_does_not_move_the_live_baseline(paper: User) -> None:
    services.paper_account_reset(user=paper)
    snapshot(paper, at(23, day=9), "300", mode="live")
    snapshot(paper, at(23, day=9), "12000")
    Balance.objects.create(user=paper, mode="live", asset="USDT", free=Decimal("320"))
    TradingAccount.objects.filter(user=paper).update(mode="live")

    assert portfolio_for_user(user=paper).day_pnl == Decimal("20.00")


def test_a_dust_holding_shows_its_value_cut_not_rounded_up_to_a_cent(paper: User) -> None:
    snapshot_write(tickers={"PEPEUSDT": {"price": "0.0000063291"}}, books={}, watched=[])
    Balance.objects.create(user=paper, mode="paper", asset="PEPE", free=Decimal("1000"))
    holding_usdt(paper, "0.999")
    client = Client()
    client.force_login(paper)

    page = client.get("/portfolio/").content.decode()

    assert '<td class="num">0.006329</td>' in page  # 1000 x 0.0000063291, not 0.01
    assert '<td class="num">0.999</td>' in page  # not 1.00, which the user does not have
    assert '<div class="big-price">1.00 <span' in page  # 1.0053291, cut
