"""Read endpoints of the trading API: symbols, market data, balances, fills and the portfolio."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from tests.api.conftest import access_for, assert_error, pat_for
from trading import schemas
from trading.exchange.types import Kline
from trading.feed.store import candle_upsert_many, memo_clear, snapshot_write
from trading.models import Balance, Fill, Interval, Order, PortfolioSnapshot, Symbol, TradingAccount

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

TRADE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def sol(db: None) -> Symbol:
    return Symbol.objects.create(
        symbol="SOLUSDT",
        base_asset="SOL",
        quote_asset="USDT",
        api_tradable=True,
        price_precision=2,
        quantity_precision=2,
        min_quantity=Decimal("0.01"),
        min_notional=Decimal(1),
        min_notional_market=Decimal(1),
        max_notional=Decimal(2_000_000),
        taker_commission=Decimal("0.0005"),
        order_types=["LIMIT", "MARKET", "LIMIT_MAKER"],
    )


@pytest.fixture
def feed(sol: Symbol) -> None:
    """What the market feed writes into the cache while it watches SOLUSDT."""
    snapshot_write(
        tickers={
            "SOLUSDT": {
                "price": "127.40",
                "change": "-1.25",
                "high": "131",
                "low": "125.5",
                "volume": "1000.5",
                "quote_volume": "127400",
                "bid": "127.39",
                "ask": "127.41",
            }
        },
        books={
            "SOLUSDT": {
                "bid": "127.39",
                "ask": "127.41",
                "bids": [["127.39", "2.5"], ["127.38", "4"], ["127.37", "1"]],
                "asks": [["127.41", "1.25"], ["127.42", "3"]],
                "last": "127.40",
                "trades": [
                    {"p": "127.38", "q": "0.5", "s": "SELL", "t": TRADE_MS},
                    {"p": "127.41", "q": "0.25", "s": "BUY", "t": TRADE_MS + 1000},
                ],
            }
        },
        watched=["SOLUSDT"],
    )


# ---- symbols --------------------------------------------------------------------------------------


def test_symbols_are_listed_with_their_rules_as_strings(api, viewer, sol):
    Symbol.objects.create(symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", api_tradable=False)
    Symbol.objects.create(symbol="BTCUSDC", base_asset="BTC", quote_asset="USDC", api_tradable=True)
    headers = pat_for(viewer, "read")
    page = api.get("/api/v1/symbols?limit=2", headers=headers).json()
    assert page["count"] == 3
    assert [s["symbol"] for s in page["items"]] == ["BTCUSDC", "BTCUSDT"]
    assert page["next"] == "http://testserver/api/v1/symbols?limit=2&offset=2"
    detail = api.get("/api/v1/symbols/solusdt", headers=headers).json()
    assert detail["status"] == "online"
    assert (detail["trading"], detail["api_tradable"]) == (True, True)
    assert (detail["min_quantity"], detail["min_notional"], detail["taker_commission"]) == (
        "0.01",
        "1",
        "0.0005",
    )
    assert detail["max_notional_market"] is None
    assert detail["order_types"] == ["LIMIT", "MARKET", "LIMIT_MAKER"]

    def names(query: str) -> list[str]:
        return [s["symbol"] for s in api.get(f"/api/v1/symbols?{query}", headers=headers).json()["items"]]

    assert names("quote=usdc") == ["BTCUSDC"]
    assert names("search=sol") == ["SOLUSDT"]
    assert names("tradable=true") == ["BTCUSDC", "SOLUSDT"]


def test_an_unknown_symbol_is_404_unknown_symbol_on_every_endpoint_as_for_an_order(api, owner):
    headers = access_for(owner)
    reads = (
        "/symbols/NOPEUSDT",
        "/markets/NOPEUSDT/ticker",
        "/markets/NOPEUSDT/depth",
        "/markets/NOPEUSDT/trades",
        "/markets/NOPEUSDT/klines",
    )
    for path in reads:
        error = assert_error(api.get(f"/api/v1{path}", headers=headers), 404, "unknown_symbol")
        assert error["message"] == "NOPEUSDT is not a MEXC spot symbol"


def test_market_data_needs_authentication(api, sol):
    assert_error(api.get("/api/v1/markets/SOLUSDT/ticker"), 401, "not_authenticated")


# ---- market data ----------------------------------------------------------------------------------


def test_the_ticker_comes_from_the_feed(api, viewer, feed):
    ticker = api.get("/api/v1/markets/SOLUSDT/ticker", headers=access_for(viewer)).json()
    assert ticker == {
        "symbol": "SOLUSDT",
        "source": "feed",
        "price": "127.4",
        "change_pct": "-1.25",
        "high": "131",
        "low": "125.5",
        "volume": "1000.5",
        "quote_volume": "127400",
        "bid": "127.39",
        "ask": "127.41",
    }


def test_a_new_feed_snapshot_changes_the_rendered_ticker_at_once(api, viewer, feed):
    headers = access_for(viewer)
    first = api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers)
    assert first["Content-Type"] == "application/json; charset=utf-8"
    assert api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers).content == first.content
    snapshot_write(
        tickers={"SOLUSDT": {"price": "130.000", "change": "2", "bid": "129.9"}}, books={}, watched=[]
    )
    memo_clear()
    moved = api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers).json()
    assert (moved["price"], moved["change_pct"], moved["bid"], moved["ask"]) == ("130", "2", "129.9", None)


def test_without_the_feed_the_ticker_is_the_last_stored_candle_or_nothing(api, owner, sol):
    headers = access_for(owner)
    nothing = api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers).json()
    assert (nothing["source"], nothing["price"]) == ("none", None)
    candles(2)
    ticker = api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers).json()
    assert (ticker["source"], ticker["price"], ticker["bid"]) == ("candles", "101", None)


def test_depth_is_best_first_on_each_side(api, owner, feed):
    depth = api.get("/api/v1/markets/solusdt/depth?limit=2", headers=access_for(owner)).json()
    assert depth == {
        "symbol": "SOLUSDT",
        "source": "feed",
        "bids": [{"price": "127.39", "quantity": "2.5"}, {"price": "127.38", "quantity": "4"}],
        "asks": [{"price": "127.41", "quantity": "1.25"}, {"price": "127.42", "quantity": "3"}],
        "spread": "0.02",
    }


def test_trades_are_newest_first(api, owner, feed):
    body = api.get("/api/v1/markets/SOLUSDT/trades", headers=access_for(owner)).json()
    assert body["source"] == "feed"
    assert body["trades"] == [
        {"price": "127.41", "quantity": "0.25", "side": "BUY", "time": "2026-01-01T00:00:01Z"},
        {"price": "127.38", "quantity": "0.5", "side": "SELL", "time": "2026-01-01T00:00:00Z"},
    ]


def test_an_unwatched_symbol_has_an_empty_book_and_no_trades(api, owner, sol):
    headers = access_for(owner)
    depth = api.get("/api/v1/markets/SOLUSDT/depth", headers=headers).json()
    assert depth == {"symbol": "SOLUSDT", "source": "none", "bids": [], "asks": [], "spread": None}
    trades = api.get("/api/v1/markets/SOLUSDT/trades", headers=headers).json()
    assert trades == {"symbol": "SOLUSDT", "source": "none", "trades": []}


def candles(n: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    candle_upsert_many(
        klines=[
            Kline(
                symbol="SOLUSDT",
                interval="1m",
                open_time_ms=int((start + timedelta(minutes=i)).timestamp() * 1000),
                close_time_ms=int((start + timedelta(minutes=i + 1)).timestamp() * 1000) - 1,
                open=Decimal(100 + i),
                high=Decimal(101 + i),
                low=Decimal(99 + i),
                close=Decimal(100 + i),
                volume=Decimal("1.50"),
                quote_volume=Decimal(150),
            )
            for i in range(n)
        ]
    )


def test_klines_are_the_stored_candles_oldest_first(api, owner, sol):
    candles(5)
    body = api.get("/api/v1/markets/SOLUSDT/klines?interval=1m&limit=3", headers=access_for(owner)).json()
    assert body["interval"] == "1m"
    assert [k["close"] for k in body["klines"]] == ["102", "103", "104"]
    assert body["klines"][0] == {
        "time": int(datetime(2026, 1, 1, 0, 2, tzinfo=UTC).timestamp()),
        "open": "102",
        "high": "103",
        "low": "101",
        "close": "102",
        "volume": "1.5",
    }
    error = assert_error(
        api.get("/api/v1/markets/SOLUSDT/klines?interval=2m", headers=access_for(owner)),
        422,
        "validation_error",
    )
    assert error["details"][0]["field"] == "interval"


# ---- balances, fills, portfolio -------------------------------------------------------------------


def holdings(user: Any) -> Order:
    TradingAccount.objects.create(user=user)
    Balance.objects.create(user=user, mode="paper", asset="USDT", free=Decimal("9745.25"))
    Balance.objects.create(user=user, mode="paper", asset="SOL", free=Decimal(2), locked=Decimal("0.5"))
    Balance.objects.create(user=user, mode="paper", asset="XRP", free=Decimal(0))
    Balance.objects.create(user=user, mode="live", asset="BTC", free=Decimal(1))
    order = Order.objects.create(
        user=user,
        mode="paper",
        symbol="SOLUSDT",
        side="BUY",
        type="MARKET",
        client_order_id=f"h{user.pk}",
        status="FILLED",
        quote_quantity=Decimal("254.75"),
        executed_qty=Decimal("2.5"),
        cummulative_quote_qty=Decimal("254.75"),
    )
    Fill.objects.create(
        order=order, trade_id="t1", price=Decimal("101.9"), qty=Decimal("2.5"), quote_qty=Decimal("254.75")
    )
    return order


def test_balances_are_the_current_accounts_non_zero_ones(api, owner, other):
    holdings(owner)
    body = api.get("/api/v1/balances", headers=access_for(owner)).json()
    assert body == {
        "mode": "paper",
        "balances": [
            {"asset": "SOL", "free": "2", "locked": "0.5", "total": "2.5"},
            {"asset": "USDT", "free": "9745.25", "locked": "0", "total": "9745.25"},
        ],
    }
    assert api.get("/api/v1/balances", headers=access_for(other)).json() == {"mode": "paper", "balances": []}


def test_fills_are_listed_for_their_owner_only(api, owner, other, sol):
    order = holdings(owner)
    body = api.get("/api/v1/fills?symbol=solusdt", headers=access_for(owner)).json()
    assert body["count"] == 1
    fill = body["items"][0]
    assert {k: fill[k] for k in ("order_id", "symbol", "side", "trade_id", "price", "quantity")} == {
        "order_id": order.pk,
        "symbol": "SOLUSDT",
        "side": "BUY",
        "trade_id": "t1",
        "price": "101.9",
        "quantity": "2.5",
    }
    assert api.get("/api/v1/fills", headers=access_for(other)).json() == {
        "items": [],
        "count": 0,
        "next": None,
    }


def test_the_fills_of_a_symbol_mexc_does_not_list_are_unknown_symbol_not_empty(api, owner, sol):
    holdings(owner)
    headers = access_for(owner)

    error = assert_error(api.get("/api/v1/fills?symbol=NOPE", headers=headers), 404, "unknown_symbol")

    assert "NOPE" in error["message"]
    assert api.get("/api/v1/fills?symbol=SOLUSDT", headers=headers).json()["count"] == 1


def test_the_portfolio_values_holdings_at_feed_prices_with_equity_history(api, owner, feed):
    holdings(owner)
    now = timezone.now()
    for minutes, value in ((20, "10000"), (10, "10050.5")):
        PortfolioSnapshot.objects.create(
            user=owner, mode="paper", at=now - timedelta(minutes=minutes), value=value
        )
    body = api.get("/api/v1/portfolio", headers=access_for(owner)).json()
    assert (body["mode"], body["quote"]) == ("paper", "USDT")
    assert body["total_value"] == "10063.75"  # 9745.25 + 2.5 x 127.40
    sol = next(h for h in body["holdings"] if h["asset"] == "SOL")
    assert sol == {
        "asset": "SOL",
        "free": "2",
        "locked": "0.5",
        "market": "SOLUSDT",
        "price": "127.4",
        "value": "318.5",
        "allocation_pct": "3.2",
        "average_cost": "101.9",
        "pnl": "63.75",
        "pnl_pct": "25.02",
    }
    usdt = next(h for h in body["holdings"] if h["asset"] == "USDT")
    assert (usdt["market"], usdt["price"], usdt["pnl"]) == (None, "1", None)
    assert body["unrealized_pnl"] == "63.75"
    # The recorded values, then the value now (a move since the last snapshot is never missed).
    assert [p["value"] for p in body["equity"]] == ["10000", "10050.5", "10063.75"]
    assert body["equity"][0]["time"] < body["equity"][1]["time"] < body["equity"][2]["time"]
    one = api.get("/api/v1/portfolio?points=1", headers=access_for(owner)).json()
    assert [p["value"] for p in one["equity"]][-1] == "10063.75"


def test_an_empty_portfolio_is_zero(api, other):
    body = api.get("/api/v1/portfolio", headers=access_for(other)).json()
    assert body == {
        "mode": "paper",
        "quote": "USDT",
        "total_value": "0",
        "unrealized_pnl": "0",
        "day_pnl": None,
        "holdings": [],
        "equity": [{"time": body["equity"][0]["time"], "value": "0"}],
    }


# ---- the schema ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "choices"),
    [
        (schemas.OrderSide, Order.Side),
        (schemas.OrderType, Order.Type),
        (schemas.OrderStatus, Order.Status),
        (schemas.OrderSource, Order.Source),
        (schemas.KlineInterval, Interval),
    ],
)
def test_the_schema_enums_are_the_models_choices(literal, choices):
    assert list(typing.get_args(literal)) == list(choices.values)


def test_every_trading_operation_documents_its_success_and_error_responses(api):
    spec = api.get("/api/v1/openapi.json").json()
    prefixes = ("/orders", "/markets/", "/symbols", "/fills", "/balances", "/portfolio")
    paths = {p: ops for p, ops in spec["paths"].items() if p.removeprefix("/api/v1").startswith(prefixes)}
    assert len(paths) == 12
    for ops in paths.values():
        for op in ops.values():
            success = [s for s in op["responses"] if s in ("200", "201")]
            assert success, op["operationId"]
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorOut"
            )
    create = spec["paths"]["/api/v1/orders"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert create["x-required-scope"] == "trade"
    price = spec["components"]["schemas"]["OrderOut"]["properties"]["executed_quantity"]
    assert price["type"] == "string"


def test_a_symbol_the_exchange_stopped_listing_has_no_price_not_its_last_one(api, viewer, sol):
    candles(2)  # even with stored candles: their close is as frozen as the feed's last price
    gone = {"price": None, "change": None, "bid": None, "ask": None, "state": "unavailable"}
    snapshot_write(tickers={"SOLUSDT": gone}, books={}, watched=[])

    ticker = api.get("/api/v1/markets/SOLUSDT/ticker", headers=access_for(viewer)).json()

    assert (ticker["source"], ticker["price"], ticker["bid"]) == ("none", None, None)
