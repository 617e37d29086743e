"""How a paper order reaches the database: one write transaction, each row written once, and what
happens after the commit can fail without failing the order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from accounts.notifications.models import Notification
from trading import services
from trading.models import Balance, Fill, Order
from trading.services import userstream as userstream_services
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db(transaction=True)
WRITE = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE)\s+(?:OR \w+\s+)?(?:INTO\s+|FROM\s+)?\"?(\w+)\"?", re.IGNORECASE
)


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement SQLite runs on this thread's connection, BEGIN and COMMIT included."""
    seen: list[str] = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        connection.connection.set_trace_callback(None)


def transactions(seen: list[str]) -> list[list[tuple[str, str]]]:
    """The writes of each BEGIN ... COMMIT block, as (verb, table)."""
    blocks: list[list[tuple[str, str]]] = []
    for sql in seen:
        if sql.upper().startswith("BEGIN"):
            blocks.append([])
        elif (m := WRITE.match(sql)) and blocks:
            blocks[-1].append((m.group(1).upper(), m.group(2)))
    return blocks


def test_a_paper_market_order_is_one_transaction_writing_each_row_once(
    synced: SimExchangeThread, trader: User
) -> None:
    services.trading_account_get_or_create(user=trader)
    with statements() as seen:
        order = services.order_place(
            user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
        )
    blocks = transactions(seen)
    trading = [[w for w in block if w[1].startswith("trading_")] for block in blocks]
    autocommit_writes = [sql for sql in seen if WRITE.match(sql)]

    assert order.status == Order.Status.FILLED
    assert Fill.objects.filter(order=order).count() >= 1
    # The order's one transaction (the fill notification is written in it too: see below).
    assert sorted(trading[0]) == sorted(
        [
            ("INSERT", "trading_order"),
            ("INSERT", "trading_fill"),  # one bulk insert for every fill
            ("UPDATE", "trading_balance"),  # USDT spent
            ("INSERT", "trading_balance"),  # the first SOL
        ]
    )
    assert all(not block for block in trading[1:])
    assert len(autocommit_writes) == sum(len(block) for block in blocks)  # no write outside a transaction


def test_the_fill_notification_is_written_in_the_order_s_own_transaction(
    synced: SimExchangeThread, trader: User
) -> None:
    services.trading_account_get_or_create(user=trader)
    with statements() as seen:
        order = services.order_place(
            user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
        )
    blocks = transactions(seen)

    assert order.status == Order.Status.FILLED
    assert len(blocks) == 1  # one BEGIN ... COMMIT for the order, its fills, balances and notification
    assert ("INSERT", "notifications_notification") in blocks[0]
    assert Notification.objects.filter(user=trader, kind="order_filled", data__order_id=order.pk).count() == 1


def test_a_failing_notification_after_the_fill_does_not_fail_the_order(
    synced: SimExchangeThread, trader: User, monkeypatch: Any
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("notification store is down")

    # Inject the failure where the order service hands over to notifications (project code, so no
    # exchange is mocked): the committed order must stand and the caller must not see the error.
    monkeypatch.setattr(userstream_services, "notification_send", broken)

    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )

    assert order.status == Order.Status.FILLED
    assert Order.objects.get(pk=order.pk).status == Order.Status.FILLED
    assert Balance.objects.get(user=trader, mode="paper", asset="SOL").free > 0
