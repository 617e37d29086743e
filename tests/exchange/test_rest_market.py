import time
from decimal import Decimal

from tests.exchange.conftest import make_client
from trading.exchange.base import Exchange
from trading.exchange.types import KlineQuery, OrderType, SymbolStatus


async def test_the_client_satisfies_the_exchange_interface(client):
    assert isinstance(client, Exchange)


async def test_it_reads_server_time(sim, client):
    before = sim.now()
    assert await client.server_time() >= before


async def test_it_reads_symbol_rules_with_api_tradability(sim, client):
    sim.set_api_tradable("XRPUSDT", enabled=False)
    rules = {r.symbol: r for r in await client.symbols(["BTCUSDT", "SOLUSDT", "XRPUSDT"])}
    btc = rules["BTCUSDT"]
    assert btc.status == SymbolStatus.ONLINE
    assert rules["SOLUSDT"].api_tradable
    assert not btc.api_tradable
    assert not rules["XRPUSDT"].api_tradable
    assert btc.base_asset == "BTC"
    assert btc.quote_asset == "USDT"
    assert OrderType.LIMIT in btc.order_types
    assert isinstance(btc.min_notional, Decimal)
    assert btc.price_decimals >= 0
    assert btc.quantity_decimals >= 0


async def test_it_reads_all_symbols(client):
    rules = await client.symbols()
    assert len(rules) > 100


async def test_it_reads_tickers(client):
    one = await client.ticker("BTCUSDT")
    assert one.symbol == "BTCUSDT"
    assert one.last_price > 0
    many = await client.tickers(["BTCUSDT", "ETHUSDT"])
    assert {t.symbol for t in many} == {"BTCUSDT", "ETHUSDT"}


async def test_it_reads_a_sorted_order_book(client):
    book = await client.depth("BTCUSDT", limit=20)
    assert book.bids
    assert book.asks
    assert book.best_bid.price < book.best_ask.price
    assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
    assert book.last_update_id > 0


async def test_it_reads_trades_and_klines(client):
    trades = await client.trades("BTCUSDT", limit=10)
    assert all(t.price > 0 for t in trades)
    klines = await client.klines(KlineQuery("BTCUSDT", "1h", limit=5))
    assert klines
    # MEXC closeTime = openTime + interval (not -1 ms).
    assert all(k.close_time_ms - k.open_time_ms == 3_600_000 for k in klines)
    assert all(k.interval == "1h" for k in klines)


async def test_signed_calls_work_with_a_skewed_local_clock(sim):
    skewed = make_client(sim, clock=lambda: time.time() + 3600)
    try:
        balances = {b.asset: b for b in await skewed.balances()}
        assert balances["USDT"].free > 0
    finally:
        await skewed.aclose()
