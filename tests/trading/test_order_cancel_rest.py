"""`order_place(cancel_rest=True)`: an immediate-or-cancel emulated with a plain LIMIT. Right after
the exchange accepts the order, its unfilled rest is cancelled; the order returned is already final,
its fills kept. Paper and live alike, against the project's own exchange server (its book stays still
between reads here: `sim_config` in conftest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from trading import services
from trading.exchange.base import Exchange
from trading.exchange.mexc_rest import MexcRestClient
from trading.exchange.types import BookLevel, OrderBook, OrderState
from trading.exchanges import public_client, run
from trading.models import Balance, Fill, Order
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db


def book(symbol: str = "SOLUSDT") -> OrderBook:
    async def depth(exchange: Exchange) -> OrderBook:
        return await exchange.depth(symbol, limit=20)

    return run(public_client, depth)


def exchange_orders(mexc: SimExchangeThread, symbol: str = "SOLUSDT") -> list[OrderState]:
    """The exchange's own record of the demo account's orders."""

    async def all_orders(exchange: Exchange) -> list[OrderState]:
        assert isinstance(exchange, MexcRestClient)
        return await exchange.all_orders(symbol)

    return run(
        lambda: MexcRestClient(base_url=mexc.base_url, api_key=mexc.api_key, api_secret=mexc.api_secret),
        all_orders,
    )


def balance(user: User, mode: str, asset: str) -> tuple[Decimal, Decimal]:
    row = Balance.objects.filter(user=user, mode=mode, asset=asset).first()
    return (row.free, row.locked) if row else (Decimal(0), Decimal(0))


def on_account(mexc: SimExchangeThread, user: User, mode: str) -> User:
    """`user` trading in `mode`: paper, or live with the exchange's demo key (10 000 USDT either way)."""
    if mode == "live":
        services.api_credential_save(user=user, api_key=mexc.api_key, api_secret=mexc.api_secret)
        services.trading_mode_set(user=user, mode="live")
    return user


def thin_buy(best_ask: BookLevel) -> tuple[Decimal, Decimal]:
    """A LIMIT buy at the best ask for one more SOL than that level holds: part fills, part rests."""
    return best_ask.price, best_ask.quantity + 1


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_the_unfilled_rest_is_cancelled_as_soon_as_the_order_is_accepted(
    synced: SimExchangeThread, trader: User, mode: str
) -> None:
    trader = on_account(synced, trader, mode)
    ask = book().asks[0]
    price, quantity = thin_buy(ask)

    order = services.order_place(
        user=trader,
        symbol="SOLUSDT",
        side="BUY",
        type="LIMIT",
        price=price,
        quantity=quantity,
        cancel_rest=True,
    )

    # Returned final: the level at the price bought, the one SOL more cancelled, not resting.
    assert order.mode == mode
    assert order.status == Order.Status.PARTIALLY_CANCELED
    assert order.executed_qty == ask.quantity
    assert order.cummulative_quote_qty == ask.price * ask.quantity
    assert Order.objects.get(pk=order.pk).status == Order.Status.PARTIALLY_CANCELED
    fills = list(Fill.objects.filter(order=order))
    assert sum(f.qty for f in fills) == ask.quantity
    assert all(f.price == price for f in fills)
    # Nothing stays locked for the cancelled rest; only the filled part was paid for.
    if mode == "live":
        services.balances_sync(user_id=trader.pk)
    assert balance(trader, mode, "USDT") == (Decimal(10_000) - ask.price * ask.quantity, Decimal(0))
    if mode == "live":
        [seen] = exchange_orders(synced)
        assert (seen.status.value, seen.executed_quantity) == ("PARTIALLY_CANCELED", ask.quantity)
        after = book()
        assert after.asks[0].price > price  # the level was bought, and the rest is no bid at the price
        assert all(level.price < price for level in after.bids)


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_an_order_that_fills_nothing_at_once_is_returned_cancelled(
    synced: SimExchangeThread, trader: User, mode: str
) -> None:
    trader = on_account(synced, trader, mode)
    price = book().bids[0].price - Decimal(3)

    order = services.order_place(
        user=trader,
        symbol="SOLUSDT",
        side="BUY",
        type="LIMIT",
        price=price,
        quantity="1",
        cancel_rest=True,
    )

    assert order.status == Order.Status.CANCELED
    assert order.executed_qty == 0
    assert not Fill.objects.filter(order=order).exists()
    if mode == "live":
        assert [o.status.value for o in exchange_orders(synced)] == ["CANCELED"]
        services.balances_sync(user_id=trader.pk)
    assert balance(trader, mode, "USDT")[1] == 0


def test_without_cancel_rest_the_same_order_rests(synced: SimExchangeThread, trader: User) -> None:
    ask = book().asks[0]
    price, quantity = thin_buy(ask)

    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", price=price, quantity=quantity
    )

    assert order.status == Order.Status.PARTIALLY_FILLED
    assert balance(trader, "paper", "USDT")[1] == price  # the one SOL left, locked at the price
