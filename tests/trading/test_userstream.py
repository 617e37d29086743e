"""The user-data-stream consumer against the bundled exchange: fills reach Brute's rows while nobody
asks, -2013 right after placing is not final, and a reconnect reconciles."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from accounts.models import User
from tests.conftest import wait_for
from trading import services
from trading.exchange.types import OrderBook
from trading.exchanges import hub, public_client, run, userstream_alive
from trading.models import Balance, Fill, Order
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.models import Position
from trading.userstream import UserStreams

pytestmark = pytest.mark.django_db(transaction=True)


def book(symbol: str = "SOLUSDT") -> OrderBook:
    async def depth(exchange: object) -> OrderBook:
        return await exchange.depth(symbol, limit=5)  # type: ignore[attr-defined]

    return run(public_client, depth)


@pytest.fixture
def streams(live_trader: User) -> Iterator[UserStreams]:
    h = hub()
    consumer = UserStreams(h, rescan_s=0.5)
    running = h.submit(consumer.run())
    wait_for(lambda: userstream_alive(live_trader.pk))
    yield consumer
    running.cancel()
    time.sleep(0.2)


def test_a_resting_limit_order_the_market_fills_is_recorded_without_anyone_asking(
    synced: SimExchangeThread, live_trader: User, streams: UserStreams
) -> None:
    bid = book().bids[0].price
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=bid - 2
    )
    assert order.status == Order.Status.NEW

    synced.set_price("SOLUSDT", bid - 4)  # the market trades through the order; nobody polls

    def filled() -> bool:
        order.refresh_from_db()
        return order.status == Order.Status.FILLED

    wait_for(filled)
    fills = list(Fill.objects.filter(order=order))
    assert sum(f.qty for f in fills) == Decimal(1) == order.executed_qty
    position = Position.objects.get(user=live_trader, symbol="SOLUSDT", status=Position.Status.OPEN)
    assert position.qty > 0  # the fill reached the position at once: its exits can be armed
    # The account channel's balance may come in the next frame, as on MEXC.
    wait_for(lambda: Balance.objects.filter(user=live_trader, mode="live", asset="SOL", free__gt=0).exists())


def test_an_order_not_visible_right_after_placing_is_read_again_not_recorded_empty(
    synced: SimExchangeThread, live_trader: User
) -> None:
    synced.order_invisible_next(2)  # the first two read-backs answer -2013

    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )

    assert order.status == Order.Status.FILLED
    assert order.fills.count() > 0


def test_when_the_order_stays_invisible_the_stream_settles_it(
    synced: SimExchangeThread, live_trader: User, streams: UserStreams
) -> None:
    synced.order_invisible_next(10)

    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )

    def filled() -> bool:
        order.refresh_from_db()
        return order.status == Order.Status.FILLED

    wait_for(filled)
    assert order.fills.count() > 0
    assert sum(f.qty for f in order.fills.all()) == order.executed_qty
    assert Position.objects.filter(user=live_trader, symbol="SOLUSDT").exists()


def test_the_same_fill_from_the_stream_and_the_read_back_lands_once(
    synced: SimExchangeThread, live_trader: User, streams: UserStreams
) -> None:
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )
    wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FILLED)
    services.order_refresh(user=live_trader, order_id=order.pk)  # the read-back path as well
    time.sleep(0.5)
    order.refresh_from_db()

    trade_ids = list(Fill.objects.filter(order=order).values_list("trade_id", flat=True))
    assert trade_ids
    assert len(trade_ids) == len(set(trade_ids))
    position = Position.objects.get(user=live_trader, symbol="SOLUSDT")
    assert position.qty <= order.executed_qty  # folded once (less the fee in the base asset)


def test_a_reconnect_runs_reconcile_and_the_stream_keeps_delivering(
    synced: SimExchangeThread, live_trader: User, streams: UserStreams
) -> None:
    account = streams.accounts[live_trader.pk]
    before = account.reconciles

    synced.disconnect_websockets(abrupt=True)
    wait_for(lambda: account.reconciles > before)

    bid = book().bids[0].price
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=bid - 2
    )
    synced.set_price("SOLUSDT", bid - 4)
    wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FILLED)
