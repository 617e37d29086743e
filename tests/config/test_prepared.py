"""PreparedInsert (config/prepared.py) stores what the ORM's own save() stores."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from config.prepared import PreparedInsert, PreparedSelect
from tests.factories import UserFactory
from trading.models import Balance, Fill, Mode, Order

pytestmark = pytest.mark.django_db

EXACT = [Decimal("12345672.12345678"), Decimal("3.123456789012345678"), Decimal("0.000000011648")]


def test_a_row_reads_back_as_saved_with_its_key_and_exact_amounts() -> None:
    user: User = UserFactory()
    inserted = PreparedInsert(Balance)
    rows = [
        inserted.insert(Balance(user=user, mode=Mode.PAPER, asset=f"A{n}", free=amount, locked=Decimal(0)))
        for n, amount in enumerate(EXACT)
    ]
    assert all(row.pk and not row._state.adding for row in rows)
    stored = {b.pk: b for b in Balance.objects.filter(user=user)}
    assert [stored[row.pk].free for row in rows] == EXACT
    assert all(stored[row.pk].updated is not None for row in rows)  # auto_now, as save() sets it
    with pytest.raises(IntegrityError), transaction.atomic():  # the table's own constraints hold
        inserted.insert(Balance(user=user, mode=Mode.PAPER, asset="A0", free=Decimal(1), locked=Decimal(0)))


def test_many_rows_in_batches_and_conflicts_ignored_when_asked() -> None:
    user: User = UserFactory()
    order = Order.objects.create(
        user=user, mode=Mode.PAPER, symbol="SOLUSDT", side="BUY", type="MARKET",
        client_order_id="prepared-1", quote_quantity=Decimal(2),
    )  # fmt: skip

    def fill(n: int) -> Fill:
        price = EXACT[n % 3]
        return Fill(order=order, trade_id=str(n), price=price, qty=Decimal(1), quote_qty=price, commission=0)

    PreparedInsert(Fill).insert_many([fill(n) for n in range(250)])  # three statements
    PreparedInsert(Fill, ignore_conflicts=True).insert_many([fill(0), fill(250)])
    stored = Fill.objects.filter(order=order)
    assert stored.count() == 251
    assert sorted({f.price for f in stored}) == sorted(EXACT)
    with pytest.raises(IntegrityError), transaction.atomic():
        PreparedInsert(Fill).insert_many([fill(1)])


def test_a_select_returns_the_matching_rows_decoded_and_in_order() -> None:
    user, other = UserFactory(), UserFactory()
    for owner, asset, free in [(user, "SOL", "3.123456789012345678"), (user, "BTC", "0.000000011648")]:
        Balance.objects.create(user=owner, mode=Mode.PAPER, asset=asset, free=Decimal(free))
    Balance.objects.create(user=other, mode=Mode.PAPER, asset="ETH", free=Decimal(1))
    select = PreparedSelect(Balance, ["asset", "free"], where=["user", "mode"], order_by=["asset"])

    assert select.rows(user.pk, Mode.PAPER) == [
        ("BTC", Decimal("0.000000011648")),
        ("SOL", Decimal("3.123456789012345678")),
    ]
    assert select.rows(user.pk, Mode.LIVE) == []
