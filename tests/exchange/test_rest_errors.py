"""Every mapped error, provoked on the simulated exchange over real HTTP."""

import itertools
import time
from decimal import Decimal

import pytest

from tests.exchange.conftest import make_client
from trading.exchange import errors
from trading.exchange.types import OrderRequest, OrderType, Side

ids = (f"e-{n}" for n in itertools.count())


def market_buy(symbol="SOLUSDT", quote="20"):
    return OrderRequest(symbol, Side.BUY, OrderType.MARKET, next(ids), quote_quantity=Decimal(quote))


async def failing(sim, **kwargs):
    bad = make_client(sim, **kwargs)
    try:
        return await bad.balances()
    finally:
        await bad.aclose()


async def test_wrong_secret_is_an_invalid_signature(sim):
    with pytest.raises(errors.InvalidSignature):
        await failing(sim, api_secret="0" * 32)


async def test_unknown_key_is_api_key_invalid(sim):
    with pytest.raises(errors.ApiKeyInvalid):
        await failing(sim, api_key="mx0NotARealKey0001")


async def test_malformed_key_is_api_key_invalid(sim):
    with pytest.raises(errors.ApiKeyInvalid):
        await failing(sim, api_key="nope")


async def test_a_clock_that_keeps_drifting_ends_in_timestamp_out_of_window(sim):
    drift = itertools.count(0, 30)  # every reading is 30 s later than the previous one
    with pytest.raises(errors.TimestampOutOfWindow):
        await failing(sim, clock=lambda: time.time() + next(drift))


async def test_a_key_without_trade_permission_is_permission_denied(sim):
    sim.add_api_key("mx0ReadOnlyKey0001", "c" * 32, frozenset({"SPOT_ACCOUNT_READ", "SPOT_DEAL_READ"}))
    readonly = make_client(sim, api_key="mx0ReadOnlyKey0001", api_secret="c" * 32)
    try:
        with pytest.raises(errors.PermissionDenied):
            await readonly.place_order(market_buy())
    finally:
        await readonly.aclose()


async def test_symbol_closed_to_api_trading(sim, client):
    sim.set_api_tradable("XRPUSDT", enabled=False)
    with pytest.raises(errors.SymbolNotApiTradable) as info:
        await client.place_order(market_buy("XRPUSDT"))
    assert str(info.value) == "MEXC does not allow API trading of XRPUSDT"


async def test_api_market_orders_disabled(sim, client):
    sim.set_api_market_orders("SOLUSDT", enabled=False)
    with pytest.raises(errors.MarketOrdersDisabled):
        await client.place_order(market_buy())


async def test_below_minimum_notional(client):
    with pytest.raises(errors.BelowMinimum):
        await client.place_order(market_buy(quote="0.01"))


async def test_insufficient_balance(sim, client):
    sim.set_balance("USDT", Decimal(5))
    with pytest.raises(errors.InsufficientBalance):
        await client.place_order(market_buy(quote="50"))


async def test_price_outside_the_band(client):
    last = (await client.ticker("SOLUSDT")).last_price
    request = OrderRequest(
        "SOLUSDT",
        Side.BUY,
        OrderType.LIMIT,
        next(ids),
        quantity=Decimal("0.1"),
        price=(last * 10).quantize(1),
    )
    with pytest.raises(errors.PriceOutOfRange):
        await client.place_order(request)


async def test_unknown_order_on_query_and_cancel(client):
    with pytest.raises(errors.UnknownOrder) as query:
        await client.get_order("SOLUSDT", order_id="C02__nope")
    with pytest.raises(errors.UnknownOrder) as cancel:
        await client.cancel_order("SOLUSDT", client_order_id="never-placed")
    assert (query.value.code, cancel.value.code) == (-2013, -2011)


async def test_unknown_symbol(client):
    with pytest.raises(errors.InvalidSymbol):
        await client.depth("NOPEUSDT")


async def test_persistent_5xx_on_a_read_is_exchange_unavailable(sim, client):
    sim.fail_next("/api/v3/depth", status=503, count=10)
    with pytest.raises(errors.ExchangeUnavailable) as info:
        await client.depth("BTCUSDT")
    assert not isinstance(info.value, errors.OutcomeUnknown)


async def test_a_transient_5xx_on_a_read_is_retried(sim, client):
    sim.fail_next("/api/v3/depth", status=502, count=2)
    assert (await client.depth("BTCUSDT")).bids


async def test_order_sent_and_exchange_down_is_outcome_unknown(sim, client):
    await client.sync_time()
    sim.fail_next("/api/v3/order", status=503, count=50)
    with pytest.raises(errors.OutcomeUnknown) as info:
        await client.place_order(market_buy())
    assert info.value.client_order_id.startswith("e-")


async def test_rate_limit_exhausted_is_rate_limited_with_retry_after(sim):
    limited = make_client(sim, max_retries=1)
    sim.rate_limit_next(2, path="/api/v3/time")
    try:
        with pytest.raises(errors.RateLimited) as info:
            await limited.server_time()
        assert info.value.retry_after > 0
        assert not isinstance(info.value, errors.IpBanned)
    finally:
        await limited.aclose()
