"""Idempotent placement and rate-limit recovery against injected faults."""

from decimal import Decimal

from tests.exchange.conftest import make_client
from trading.exchange.types import OrderRequest, OrderStatus, OrderType, Side


async def count_orders(client, client_order_id):
    orders = await client.all_orders("SOLUSDT")
    return [o for o in orders if o.client_order_id == client_order_id]


async def test_5xx_after_the_order_was_placed_leaves_exactly_one_order(sim, client):
    await client.sync_time()
    sim.fail_next("/api/v3/order", method="POST", status=503, after_processing=True)
    request = OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "idem-5xx", quote_quantity=Decimal(25))
    order = await client.place_order(request)
    assert order.client_order_id == "idem-5xx"
    assert order.status == OrderStatus.FILLED
    assert [o.order_id for o in await count_orders(client, "idem-5xx")] == [order.order_id]


async def test_5xx_before_the_order_was_placed_resends_it_once(sim, client):
    await client.sync_time()
    sim.fail_next("/api/v3/order", method="POST", status=500, after_processing=False)
    request = OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "idem-pre", quote_quantity=Decimal(25))
    order = await client.place_order(request)
    assert [o.order_id for o in await count_orders(client, "idem-pre")] == [order.order_id]


async def test_timeout_after_the_order_reached_the_exchange_leaves_exactly_one_order(sim):
    client = make_client(sim, timeout_s=0.5)
    try:
        await client.sync_time()
        sim.delay_next("/api/v3/order", method="POST", seconds=1.5)
        request = OrderRequest(
            "SOLUSDT", Side.BUY, OrderType.MARKET, "idem-timeout", quote_quantity=Decimal(25)
        )
        order = await client.place_order(request)
        assert order.client_order_id == "idem-timeout"
        assert [o.order_id for o in await count_orders(client, "idem-timeout")] == [order.order_id]
    finally:
        await client.aclose()


async def test_a_429_storm_is_ridden_out_without_a_ban(sim, client):
    await client.sync_time()
    sim.rate_limit_next(4, path="/api/v3/ticker/24hr")
    for _ in range(3):
        assert (await client.ticker("SOLUSDT")).last_price > 0
    assert client.limiter.backoffs == 4
    # Signed calls are budgeted per account, so they were never held up by the IP-scope pause.
    assert await client.balances()
