"""Live orders through the MEXC client against the exchange server with its demo key."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import User
from trading import services
from trading.exchange.mexc_rest import MexcRestClient
from trading.exchange.types import OrderBook, OrderRequest, OrderState, OrderType, Side
from trading.exchanges import public_client, run
from trading.models import Balance, Order
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db


def best_bid(symbol: str = "SOLUSDT") -> Decimal:
    async def depth(exchange: object) -> OrderBook:
        return await exchange.depth(symbol, limit=5)  # type: ignore[attr-defined]

    return run(public_client, depth).bids[0].price


def exchange_orders(mexc: SimExchangeThread, symbol: str = "SOLUSDT") -> list[OrderState]:
    async def all_orders(exchange: object) -> list[OrderState]:
        return await exchange.all_orders(symbol)  # type: ignore[attr-defined]

    return run(
        lambda: MexcRestClient(base_url=mexc.base_url, api_key=mexc.api_key, api_secret=mexc.api_secret),
        all_orders,
    )  # type: ignore[arg-type, return-value]


def test_a_live_market_buy_is_filled_and_recorded_with_fills_and_balances(
    synced: SimExchangeThread, live_trader: User
) -> None:
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="50"
    )

    assert order.mode == "live"
    assert order.status == Order.Status.FILLED
    assert order.exchange_order_id
    fills = list(order.fills.all())
    assert fills
    assert sum(f.qty for f in fills) == order.executed_qty
    assert sum(f.quote_qty for f in fills) == order.cummulative_quote_qty
    usdt = Balance.objects.get(user=live_trader, mode="live", asset="USDT")
    assert usdt.free == Decimal(10_000) - order.cummulative_quote_qty
    assert Balance.objects.get(user=live_trader, mode="live", asset="SOL").free > 0


def test_a_timeout_after_placement_leaves_exactly_one_order(
    synced: SimExchangeThread, live_trader: User
) -> None:
    price = best_bid() - Decimal(3)
    synced.fail_next("/api/v3/order", method="POST", status=504, after_processing=True)

    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=price
    )

    assert order.status == Order.Status.NEW
    assert order.exchange_order_id
    mine = [o for o in exchange_orders(synced) if o.client_order_id == order.client_order_id]
    assert len(mine) == 1
    assert len(exchange_orders(synced)) == 1


def test_reconciliation_settles_an_order_that_reached_the_exchange_before_a_crash(
    synced: SimExchangeThread, live_trader: User
) -> None:
    price = best_bid() - Decimal(3)
    request = OrderRequest(
        "SOLUSDT", Side.BUY, OrderType.LIMIT, "brcrash0001", quantity=Decimal(1), price=price
    )

    async def place(exchange: object) -> OrderState:
        return await exchange.place_order(request)  # type: ignore[attr-defined]

    placed = run(
        lambda: MexcRestClient(
            base_url=synced.base_url, api_key=synced.api_key, api_secret=synced.api_secret
        ),
        place,
    )  # type: ignore[arg-type]
    # The process died after the exchange accepted the order and before it recorded the answer.
    row = Order.objects.create(
        user=live_trader,
        mode="live",
        symbol="SOLUSDT",
        side="BUY",
        type="LIMIT",
        quantity=1,
        price=price,
        client_order_id="brcrash0001",
    )
    lost = Order.objects.create(
        user=live_trader,
        mode="live",
        symbol="SOLUSDT",
        side="BUY",
        type="LIMIT",
        quantity=1,
        price=price,
        client_order_id="brneverplaced01",
    )

    assert services.orders_reconcile(grace=timedelta(0)) == 2

    row.refresh_from_db()
    assert (row.status, row.exchange_order_id) == (Order.Status.NEW, placed.order_id)
    lost.refresh_from_db()
    assert lost.status == Order.Status.REJECTED
    assert len(exchange_orders(synced)) == 1


def test_a_young_pending_order_is_left_alone_by_reconciliation(
    synced: SimExchangeThread, live_trader: User
) -> None:
    row = Order.objects.create(
        user=live_trader,
        mode="live",
        symbol="SOLUSDT",
        side="BUY",
        type="LIMIT",
        quantity=1,
        price=100,
        client_order_id="brinflight01",
    )
    assert services.orders_reconcile() == 0
    row.refresh_from_db()
    assert row.status == Order.Status.PENDING


def test_a_live_order_is_cancelled_and_refreshed(synced: SimExchangeThread, live_trader: User) -> None:
    price = best_bid() - Decimal(3)
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=price
    )
    assert services.order_refresh(user=live_trader, order_id=order.pk).status == Order.Status.NEW

    cancelled = services.order_cancel(user=live_trader, order_id=order.pk)

    assert cancelled.status == Order.Status.CANCELED
    assert [o.status.value for o in exchange_orders(synced)] == ["CANCELED"]


def test_the_exchange_refusal_is_recorded_and_reported(synced: SimExchangeThread, live_trader: User) -> None:
    synced.set_api_market_orders("SOLUSDT", enabled=False)
    from config.errors import BruteError

    with pytest.raises(BruteError) as caught:
        services.order_place(
            user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
        )

    assert caught.value.code == "order_type_not_allowed"
    assert Order.objects.get().status == Order.Status.REJECTED
