"""Paper trading filled against the exchange server's real order book."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from accounts.models import User
from trading import services
from trading.exchange.types import BookLevel, OrderBook, Side, Trade
from trading.exchanges import public_client, run
from trading.models import Balance, Order
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db
START = Decimal(10_000)
TAKER = Decimal("0.0005")


def book(symbol: str = "SOLUSDT") -> OrderBook:
    async def depth(exchange: object) -> OrderBook:
        return await exchange.depth(symbol, limit=100)  # type: ignore[attr-defined]

    return run(public_client, depth)


def balance(user: User, asset: str) -> tuple[Decimal, Decimal]:
    row = Balance.objects.filter(user=user, mode="paper", asset=asset).first()
    return (row.free, row.locked) if row else (Decimal(0), Decimal(0))


def test_a_market_buy_by_quote_amount_walks_the_book_and_charges_the_taker_fee(
    synced: SimExchangeThread, trader: User
) -> None:
    asks = book().asks
    spend, expected = Decimal(5000), []
    for level in asks:
        qty = min(level.quantity, spend / level.price).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        if qty <= 0:
            break
        expected.append((level.price, qty))
        spend -= level.price * qty

    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="5000"
    )

    assert order.status == Order.Status.FILLED
    assert len(expected) > 1  # the test is only meaningful when it walks past the best level
    fills = list(order.fills.order_by("price"))
    assert [(f.price, f.qty) for f in fills] == expected
    assert all(
        f.commission == f.qty * TAKER and f.commission_asset == "SOL" and not f.is_maker for f in fills
    )
    bought = sum(q for _, q in expected)
    cost = sum(p * q for p, q in expected)
    assert cost <= Decimal(5000)
    assert (order.executed_qty, order.cummulative_quote_qty) == (bought, cost)
    # The average is a quotient: the column keeps it to its 18 decimal places (half-even).
    assert order.avg_price == (cost / bought).quantize(Decimal(1).scaleb(-18))
    assert balance(trader, "USDT") == (START - cost, 0)
    assert balance(trader, "SOL") == (bought - bought * TAKER, 0)


def test_a_market_sell_pays_the_fee_in_quote(synced: SimExchangeThread, trader: User) -> None:
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="500")
    sol_free, _ = balance(trader, "SOL")
    usdt_before, _ = balance(trader, "USDT")
    best_bid = book().bids[0]
    qty = min(Decimal("1"), sol_free, best_bid.quantity).quantize(Decimal("0.01"), rounding=ROUND_DOWN)

    order = services.order_place(user=trader, symbol="SOLUSDT", side="SELL", type="MARKET", quantity=qty)

    fill = order.fills.get()
    assert (fill.price, fill.qty, fill.commission_asset) == (best_bid.price, qty, "USDT")
    assert balance(trader, "USDT")[0] == usdt_before + fill.quote_qty - fill.quote_qty * TAKER
    assert balance(trader, "SOL")[0] == sol_free - qty


def test_a_limit_buy_rests_with_funds_locked_and_fills_when_the_market_crosses_it(
    synced: SimExchangeThread, trader: User
) -> None:
    price = (book().bids[0].price - Decimal(2)).quantize(Decimal("0.01"))
    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="2", price=price
    )

    assert order.status == Order.Status.NEW
    assert balance(trader, "USDT") == (START - 2 * price, 2 * price)
    assert services.paper_orders_match(symbol="SOLUSDT") == 0

    synced.set_price("SOLUSDT", price - Decimal(5))
    assert book().asks[0].price <= price
    assert services.paper_orders_match(symbol="SOLUSDT") == 1

    order.refresh_from_db()
    assert order.status == Order.Status.FILLED
    fill = order.fills.get()
    assert (fill.price, fill.qty, fill.is_maker, fill.commission) == (
        price,
        2,
        True,
        0,
    )  # SOL's maker fee is 0
    assert balance(trader, "USDT") == (START - 2 * price, 0)
    assert balance(trader, "SOL") == (2, 0)


def test_the_matcher_fills_from_trades_printed_through_a_resting_sell(
    synced: SimExchangeThread, trader: User
) -> None:
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="1000")
    price = (book().asks[0].price + Decimal(50)).quantize(Decimal("0.01"))
    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="SELL", type="LIMIT", quantity="3", price=price
    )
    assert balance(trader, "SOL")[1] == 3
    quiet = OrderBook("SOLUSDT", 1, bids=(BookLevel(price - 1, Decimal(9)),), asks=())
    through = [
        Trade("SOLUSDT", price + 1, Decimal(1), 1, Side.BUY),
        Trade("SOLUSDT", price, Decimal(5), 2, Side.BUY),
    ]

    assert services.paper_orders_match(symbol="SOLUSDT", book=quiet, trades=through) == 1

    order.refresh_from_db()
    # Only the trade strictly through the price counts: a print at the price may have been someone ahead.
    assert (order.status, order.executed_qty) == (Order.Status.PARTIALLY_FILLED, 1)
    assert balance(trader, "SOL")[1] == 2


def test_cancelling_a_resting_order_releases_its_funds(synced: SimExchangeThread, trader: User) -> None:
    price = (book().bids[0].price - Decimal(3)).quantize(Decimal("0.01"))
    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=price
    )

    cancelled = services.order_cancel(user=trader, order_id=order.pk)

    assert cancelled.status == Order.Status.CANCELED
    assert balance(trader, "USDT") == (START, 0)
    assert services.paper_orders_match(symbol="SOLUSDT") == 0


def test_cancel_all_and_reset(synced: SimExchangeThread, trader: User) -> None:
    bid = book().bids[0].price
    for offset in (3, 4):
        services.order_place(
            user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price=bid - offset
        )
    assert len(services.order_cancel_all(user=trader)) == 2
    assert balance(trader, "USDT") == (START, 0)

    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="100")
    services.paper_account_reset(user=trader, starting_balance=Decimal(500))
    assert balance(trader, "USDT") == (500, 0)
    assert balance(trader, "SOL") == (0, 0)


def test_a_limit_buy_above_the_ask_fills_at_once_as_taker(synced: SimExchangeThread, trader: User) -> None:
    best = book().asks[0]
    qty = min(best.quantity, Decimal(1)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity=qty, price=best.price + 1
    )
    assert order.status == Order.Status.FILLED
    assert order.fills.get().price == best.price
    assert balance(trader, "USDT") == (START - best.price * qty, 0)


def test_replaying_a_client_order_id_returns_the_same_order(synced: SimExchangeThread, trader: User) -> None:
    first = services.order_place(
        user=trader,
        symbol="SOLUSDT",
        side="BUY",
        type="MARKET",
        quote_quantity="20",
        client_order_id="retry-1",
    )
    again = services.order_place(
        user=trader,
        symbol="SOLUSDT",
        side="BUY",
        type="MARKET",
        quote_quantity="20",
        client_order_id="retry-1",
    )
    assert again.pk == first.pk
    assert Order.objects.count() == 1
