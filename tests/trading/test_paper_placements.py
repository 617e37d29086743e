"""Paper placements stored in batches: each decided alone against the balances the ones before it
left, in one transaction; a refused one writes nothing and leaves the others as they are."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.config.test_group_commit import wait_until
from tests.factories import UserFactory
from trading.exchange.errors import InsufficientBalance
from trading.exchange.paper import PaperOrder
from trading.exchange.types import Fill as FillValue
from trading.exchange.types import OrderStatus, OrderType, Side
from trading.exchanges import _paper_writes
from trading.models import Balance, Fill, Mode, Order
from trading.paper_placements import _PLACEMENTS, Placement, paper_placement_store, placements_write

pytestmark = pytest.mark.django_db(transaction=True)
PRICE = Decimal("100")


def buy(user: User, client_id: str, spend: str) -> Placement:
    """A filled market buy of `spend` USDT of SOL at PRICE, commission 0.1 % in SOL."""
    quote = Decimal(spend)
    qty = quote / PRICE
    order = PaperOrder(
        symbol="SOLUSDT",
        order_id=f"PAPER-{client_id}",
        client_order_id=client_id,
        side=Side.BUY,
        type=OrderType.MARKET,
        price=None,
        quantity=None,
        quote_quantity=quote,
        status=OrderStatus.FILLED,
        executed=qty,
        cum_quote=quote,
        time_ms=1_700_000_000_000,
        update_ms=1_700_000_000_000,
    )
    commission = qty / 1000
    fill = FillValue(
        symbol="SOLUSDT",
        trade_id=f"{client_id}-1",
        order_id=order.order_id,
        client_order_id=client_id,
        side=Side.BUY,
        price=PRICE,
        quantity=qty,
        quote_quantity=quote,
        commission=commission,
        commission_asset="SOL",
        is_maker=False,
        time_ms=order.time_ms,
    )
    changes = {"USDT": (-quote, Decimal(0)), "SOL": (qty - commission, Decimal(0))}
    return Placement(user_id=user.pk, source="api", order=order, fills=[fill], changes=changes)


def funded(usdt: str) -> User:
    user = UserFactory()
    Balance.objects.create(user=user, mode=Mode.PAPER, asset="USDT", free=Decimal(usdt))
    return user


def balances(user: User) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in Balance.objects.filter(user=user, mode=Mode.PAPER)}


def test_an_order_the_balance_no_longer_covers_is_refused_alone_in_a_batch() -> None:
    trader = funded("100")
    placements = [buy(trader, "first", "60"), buy(trader, "second", "50"), buy(trader, "third", "30")]
    answers: dict[str, object] = {}
    before = (_PLACEMENTS.batches, _PLACEMENTS.items)

    def client(placement: Placement) -> None:
        try:
            answers[placement.order.client_order_id] = paper_placement_store(placement)
        except Exception as exc:
            answers[placement.order.client_order_id] = exc
        finally:
            connections.close_all()

    threads = []
    with _paper_writes:  # the first thread leads but cannot write until all three are queued
        for index, placement in enumerate(placements):
            threads.append(threading.Thread(target=client, args=(placement,)))
            threads[-1].start()
            wait_until(lambda index=index: _PLACEMENTS.queued == index + 1)
    for thread in threads:
        thread.join()

    assert (_PLACEMENTS.batches - before[0], _PLACEMENTS.items - before[1]) == (1, 3)  # one transaction
    assert isinstance(answers["second"], InsufficientBalance)  # 40 USDT left after the first
    assert {o.client_order_id for o in Order.objects.filter(user=trader)} == {"first", "third"}
    assert Fill.objects.filter(order__user=trader).count() == 2
    assert balances(trader) == {
        "USDT": (Decimal("10"), Decimal(0)),
        "SOL": (Decimal("0.9") - Decimal("0.0009"), Decimal(0)),
    }


def test_a_client_order_id_taken_in_the_same_batch_or_before_is_refused_alone() -> None:
    trader, other = funded("100"), funded("100")
    with transaction.atomic():
        placements_write([buy(trader, "taken", "10")])
    with transaction.atomic():
        outcomes = placements_write(
            [buy(other, "taken", "10"), buy(other, "fresh", "10"), buy(other, "fresh", "10")]
        )

    assert [type(o) for o in outcomes] == [IntegrityError, Order, IntegrityError]
    assert Order.objects.get(client_order_id="taken").user_id == trader.pk
    assert Order.objects.filter(user=other).count() == 1
    assert balances(other)["USDT"] == (Decimal("90"), Decimal(0))


def test_balances_of_several_users_in_one_batch_are_each_exact() -> None:
    one, two = funded("100"), funded("50")
    with transaction.atomic():
        placements_write([buy(one, "a", "20"), buy(two, "b", "20"), buy(one, "c", "30"), buy(two, "d", "40")])

    assert balances(one)["USDT"] == (Decimal("50"), Decimal(0))
    assert balances(two)["USDT"] == (Decimal("30"), Decimal(0))  # "d" overdrew and was refused
    assert balances(one)["SOL"] == (Decimal("0.5") - Decimal("0.0005"), Decimal(0))
    assert not Order.objects.filter(client_order_id="d").exists()


def test_a_batch_costs_the_same_few_statements_whatever_its_size() -> None:
    one, two = funded("100"), funded("100")
    Balance.objects.create(user=one, mode=Mode.PAPER, asset="SOL", free=Decimal(1))  # two's SOL is new
    for size in (2, 8):
        batch = [buy(user, f"{user.pk}-{size}-{n}", "1") for n in range(size // 2) for user in (one, two)]
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            placements_write(batch)
        verbs = [q["sql"].split()[0] for q in queries]
        statements = [verb for verb in verbs if verb in {"SELECT", "INSERT", "UPDATE", "DELETE"}]
        assert statements == ["SELECT", "SELECT", "INSERT", "INSERT", "UPDATE"] + ["INSERT"] * (size == 2)
    assert balances(two)["SOL"][0] == Decimal("0.05") - Decimal("0.00005")
