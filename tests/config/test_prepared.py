"""config/prepared.py: its inserts and updates store what the ORM's own save() stores, its selects read back
what the ORM would return."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from config.prepared import PreparedInsert, PreparedSelect, PreparedUpdate
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


def test_a_select_in_lists_matches_any_listed_value_and_an_empty_list_runs_no_statement() -> None:
    user, other, third = UserFactory(), UserFactory(), UserFactory()
    for owner in (user, other, third):
        for asset in ("SOL", "BTC", "ETH"):
            Balance.objects.create(user=owner, mode=Mode.PAPER, asset=asset, free=EXACT[1])
    select = PreparedSelect(
        Balance, ["user", "asset", "free"], where=["mode"], where_in=["user", "asset"], order_by=["id"]
    )

    found = select.rows(Mode.PAPER, [user.pk, other.pk], ["SOL", "ETH"])
    assert sorted(found) == sorted(
        (owner.pk, asset, EXACT[1]) for owner in (user, other) for asset in ("SOL", "ETH")
    )
    assert select.rows(Mode.PAPER, [third.pk], ["BTC"]) == [(third.pk, "BTC", EXACT[1])]
    with CaptureQueriesContext(connection) as queries:
        assert select.rows(Mode.PAPER, [user.pk], []) == []
    assert len(queries) == 0
    with pytest.raises(TypeError):
        select.rows(Mode.PAPER, [user.pk])


def test_an_update_writes_every_row_exactly_in_one_statement_and_stamps_auto_now() -> None:
    user: User = UserFactory()
    rows = [
        Balance.objects.create(user=user, mode=Mode.PAPER, asset=f"A{n}", free=Decimal(1), locked=Decimal(1))
        for n in range(3)
    ]
    before = {row.pk: row.updated for row in rows}
    for n, row in enumerate(rows[:2]):
        row.free, row.locked = EXACT[n], EXACT[2 - n]

    with CaptureQueriesContext(connection) as queries:
        PreparedUpdate(Balance, ["free", "locked", "updated"]).update_many(rows[:2])
        PreparedUpdate(Balance, ["free"]).update_many([])  # no rows, no statement
    assert len(queries) == 1
    stored = {b.asset: b for b in Balance.objects.filter(user=user)}
    assert [(stored[a].free, stored[a].locked) for a in ("A0", "A1")] == [
        (EXACT[0], EXACT[2]),
        (EXACT[1],) * 2,
    ]
    assert all(stored[row.asset].updated > before[row.pk] for row in rows[:2])
    assert (stored["A2"].free, stored["A2"].updated) == (Decimal(1), before[rows[2].pk])  # untouched


def test_new_keys_are_read_back_by_a_select_where_the_backend_cannot_return_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user: User = UserFactory()
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    rows = [
        Order(
            user=user,
            mode=Mode.PAPER,
            symbol="SOLUSDT",
            side="BUY",
            type="MARKET",
            client_order_id=f"keyed-{n}",
            quote_quantity=Decimal(2),
        )
        for n in range(3)
    ]

    with CaptureQueriesContext(connection) as queries:
        PreparedInsert(Order).insert_keyed(rows, key="client_order_id")
    assert [q["sql"].split()[0] for q in queries] == ["INSERT", "SELECT"]
    stored = dict(Order.objects.filter(user=user).values_list("client_order_id", "pk"))
    assert {row.client_order_id: row.pk for row in rows} == stored
    assert all(not row._state.adding for row in rows)
