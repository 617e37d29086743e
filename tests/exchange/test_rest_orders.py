from decimal import Decimal

import pytest

from trading.exchange.types import OrderRequest, OrderStatus, OrderType, Side

# BTCUSDT is listed but, as for many real accounts, closed to API trading; SOLUSDT is open.
SYMBOL = "SOLUSDT"
QTY = Decimal("0.1")


@pytest.fixture(autouse=True)
def sol_balance(sim):
    sim.set_balance("SOL", Decimal(10))


# What every real MEXC symbol lists; the IOC and FOK tests add theirs (the exchange refuses others).
WITHOUT_IOC_FOK = ["LIMIT", "MARKET", "LIMIT_MAKER"]


def cid(name: str) -> str:
    return f"t-{name}"


async def tick(client) -> Decimal:
    [rules] = await client.symbols([SYMBOL])
    return Decimal(1).scaleb(-rules.price_decimals)


async def limit_price(client, side: Side, distance: str = "0.9") -> Decimal:
    """A price away from the market, inside the PERCENT_PRICE_BY_SIDE band, so the order rests."""
    last = (await client.ticker(SYMBOL)).last_price
    factor = Decimal(distance) if side == Side.BUY else 2 - Decimal(distance)
    return (last * factor).quantize(await tick(client))


async def test_market_buy_by_quote_amount_fills(client):
    order = await client.place_order(
        OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, cid("mq"), quote_quantity=Decimal("50"))
    )
    assert order.status == OrderStatus.FILLED
    assert order.client_order_id == cid("mq")
    assert order.executed_quantity > 0
    assert order.average_price > 0


async def test_market_sell_by_quantity_fills(client):
    order = await client.place_order(
        OrderRequest(SYMBOL, Side.SELL, OrderType.MARKET, cid("ms"), quantity=QTY)
    )
    assert order.status == OrderStatus.FILLED
    assert order.executed_quantity == QTY
    fills = await client.my_trades(SYMBOL, order_id=order.order_id)
    assert sum(f.quantity for f in fills) == QTY
    assert all(f.side == Side.SELL for f in fills)


async def test_limit_order_rests_then_cancels(client):
    price = await limit_price(client, Side.BUY)
    order = await client.place_order(
        OrderRequest(SYMBOL, Side.BUY, OrderType.LIMIT, cid("l"), quantity=QTY, price=price)
    )
    assert order.status == OrderStatus.NEW
    assert order.price == price
    assert [o.order_id for o in await client.open_orders(SYMBOL)] == [order.order_id]
    by_cid = await client.get_order(SYMBOL, client_order_id=cid("l"))
    assert by_cid.order_id == order.order_id
    canceled = await client.cancel_order(SYMBOL, order_id=order.order_id)
    assert canceled.status == OrderStatus.CANCELED
    assert await client.open_orders(SYMBOL) == []


async def test_limit_maker_rests_and_cancel_all_clears_it(client):
    price = await limit_price(client, Side.SELL)
    order = await client.place_order(
        OrderRequest(SYMBOL, Side.SELL, OrderType.LIMIT_MAKER, cid("lm"), quantity=QTY, price=price)
    )
    assert order.status == OrderStatus.NEW
    assert order.type == OrderType.LIMIT_MAKER
    canceled = await client.cancel_all(SYMBOL)
    assert [o.order_id for o in canceled] == [order.order_id]
    assert (await client.get_order(SYMBOL, order_id=order.order_id)).status == OrderStatus.CANCELED


@pytest.mark.parametrize("order_type", [OrderType.IMMEDIATE_OR_CANCEL, OrderType.FILL_OR_KILL])
async def test_ioc_and_fok_away_from_the_market_do_not_rest(client, sim, order_type):
    sim.set_order_types(SYMBOL, [*WITHOUT_IOC_FOK, order_type.value])
    price = await limit_price(client, Side.BUY)
    order = await client.place_order(
        OrderRequest(SYMBOL, Side.BUY, order_type, cid(order_type.value[:4]), quantity=QTY, price=price)
    )
    assert order.type == order_type
    assert order.status == OrderStatus.CANCELED
    assert order.executed_quantity == 0
    assert await client.open_orders(SYMBOL) == []


async def test_ioc_through_the_book_fills(client, sim):
    sim.set_order_types(SYMBOL, [*WITHOUT_IOC_FOK, "IMMEDIATE_OR_CANCEL"])
    book = await client.depth(SYMBOL, limit=5)
    order = await client.place_order(
        OrderRequest(
            SYMBOL,
            Side.BUY,
            OrderType.IMMEDIATE_OR_CANCEL,
            cid("ioc-fill"),
            quantity=QTY,
            price=(book.best_ask.price * Decimal("1.01")).quantize(await tick(client)),
        )
    )
    assert order.status == OrderStatus.FILLED
    assert order.executed_quantity == QTY


async def test_balances_reflect_a_fill(client):
    before = {b.asset: b for b in await client.balances()}
    await client.place_order(
        OrderRequest(SYMBOL, Side.BUY, OrderType.MARKET, cid("bal"), quote_quantity=Decimal(20))
    )
    after = {b.asset: b for b in await client.balances()}
    assert after["USDT"].free < before["USDT"].free
    assert after["SOL"].free > before["SOL"].free


async def test_test_order_validates_without_placing(client):
    price = await limit_price(client, Side.BUY)
    await client.test_order(
        OrderRequest(SYMBOL, Side.BUY, OrderType.LIMIT, cid("test"), quantity=QTY, price=price)
    )
    assert await client.open_orders(SYMBOL) == []
