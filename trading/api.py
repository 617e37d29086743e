"""The trading API: symbols, market data, orders, fills, balances and the portfolio.

One more thin face over the services and selectors the pages use: every write is one call to
`trading.services`, every read one selector (or the feed's cache snapshot), scoped to the caller.

Market data comes from the market feed's cache snapshots (tickers for every symbol, book and
recent trades for the symbols the feed watches) and from stored candles. The trading core has no
selector that fetches market data from the exchange's REST API on demand, so none is fetched here
either: without a running feed a ticker falls back to the last stored candle, and depth and trades
answer empty with `source: "none"`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, overload

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from ninja.params.functions import Path, Query
from ninja.responses import NinjaJSONEncoder

from accounts.models import User
from config.api_auth import request_principal, require_scope
from config.api_idempotency import idempotent
from config.api_pagination import Page, paginate
from config.errors import ErrorDetail, InvalidInput
from trading import selectors, services
from trading.feed.state import STATE, UNAVAILABLE
from trading.feed.store import book_cached, tickers_cached
from trading.models import Balance, Fill, Order, Symbol, SymbolStatus
from trading.schemas import (
    CANCEL_ALL_SYMBOL_WORDS,
    BalancesOut,
    CancelAllIn,
    CancelAllOut,
    DepthOut,
    FillOut,
    KlineInterval,
    KlinesOut,
    OrderDetailOut,
    OrderIn,
    OrderOut,
    OrderSide,
    OrderStatus,
    PortfolioOut,
    SymbolOut,
    TickerOut,
    TradesOut,
    TradingMode,
    order_out,
)

router = Router(tags=["trading"])

# OpenAPI 3.1 `examples` is a list; ninja hints a dict but copies the value into the schema as given.
SYMBOL_PATH = Path(
    ...,
    min_length=2,
    max_length=30,
    description="Case-insensitive",
    examples=["SOLUSDT"],  # type: ignore[arg-type]
)
# Ids stay within SQLite's integer range, so an absurd one is a 404 like any other missing id.
ID_MAX = 2**63 - 1
# Defaults of enum-typed parameters (module-level so they are built once).
INTERVAL_QUERY = Query("1m", description="Candle width")
STATUS_QUERY = Query(None, description="Only orders in this status")
SIDE_QUERY = Query(None, description="Only buys or only sells")
MODE_QUERY = Query(None, description="Paper or live; both when absent")
_STATES = {SymbolStatus.ONLINE: "online", SymbolStatus.PAUSED: "paused", SymbolStatus.OFFLINE: "offline"}


def _user(request: HttpRequest) -> User:
    return request_principal(request).user


def _listed(symbol: str | None) -> str | None:
    """A list filter's symbol, refused (404 `unknown_symbol`) unless MEXC lists it, so a typo is not
    mistaken for a market where you have no orders; an absent or empty one filters nothing."""
    return selectors.symbol_name_get(symbol=symbol) if symbol else None


class _Page(Sequence[dict[str, Any]]):
    """A queryset for the Page paginator, each row mapped by `out`; an offset past the end is an
    empty page rather than an OFFSET the database may not be able to represent."""

    def __init__(self, queryset: QuerySet[Any], out: Callable[[Any], dict[str, Any]]) -> None:
        self.queryset = queryset
        self.out = out
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.queryset.count()
        return self._count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, int):
            return self.out(self.queryset[index])
        start, stop = (
            min(index.start or 0, len(self)),
            min(len(self), len(self) if index.stop is None else index.stop),
        )
        return [self.out(row) for row in self.queryset[start:stop]] if start < stop else []


# ---- output mapping -------------------------------------------------------------------------------


def _symbol_out(symbol: Symbol) -> dict[str, Any]:
    return {
        "symbol": symbol.symbol,
        "base_asset": symbol.base_asset,
        "quote_asset": symbol.quote_asset,
        "status": _STATES.get(SymbolStatus(symbol.status), "offline"),
        "trading": symbol.is_trading,
        "api_tradable": symbol.api_allowed,
        "price_precision": symbol.price_precision,
        "quantity_precision": symbol.quantity_precision,
        "min_quantity": symbol.min_quantity,
        "min_notional": symbol.min_notional,
        "min_notional_market": symbol.min_notional_market,
        "max_notional": symbol.max_notional,
        "max_notional_market": symbol.max_notional_market,
        "maker_commission": symbol.maker_commission,
        "taker_commission": symbol.taker_commission,
        "order_types": [t for t in symbol.order_types if t in Order.Type.values],
    }


def _fill_out(fill: Fill) -> dict[str, Any]:
    return {
        "id": fill.pk,
        "order_id": fill.order_id,
        "symbol": fill.order.symbol,
        "side": fill.order.side,
        "trade_id": fill.trade_id,
        "price": fill.price,
        "quantity": fill.qty,
        "quote_quantity": fill.quote_qty,
        "commission": fill.commission,
        "commission_asset": fill.commission_asset,
        "is_maker": fill.is_maker,
        "time": fill.time,
    }


def _balance_out(balance: Balance) -> dict[str, Any]:
    return {"asset": balance.asset, "free": balance.free, "locked": balance.locked, "total": balance.total}


# ---- symbols and market data ----------------------------------------------------------------------


@router.get("/symbols", response=list[SymbolOut], tags=["markets"])
@paginate(Page)
@require_scope("read")
def symbol_list(
    request: HttpRequest,
    quote: str | None = Query(None, max_length=20, description="Only pairs quoted in this asset"),
    search: str | None = Query(None, max_length=40, description="Part of the symbol or base asset"),
    tradable: bool = Query(False, description="Only symbols open to API orders"),
) -> _Page:
    """MEXC spot symbols with their trading rules, alphabetically."""
    symbols = selectors.symbols_list(quote=quote, search=search, tradable_only=tradable)
    return _Page(symbols.order_by("symbol"), _symbol_out)


@router.get("/symbols/{symbol}", response=SymbolOut, tags=["markets"])
@require_scope("read")
def symbol_detail(request: HttpRequest, symbol: str = SYMBOL_PATH) -> dict[str, Any]:
    """One symbol and its trading rules (precisions, minimums, commissions)."""
    return _symbol_out(selectors.symbol_get(symbol=symbol))


@router.get("/markets/{symbol}/ticker", response=TickerOut, tags=["markets"])
@require_scope("read")
def market_ticker(request: HttpRequest, symbol: str = SYMBOL_PATH) -> dict[str, Any] | HttpResponse:
    """Last price, 24 h change, high, low, volumes, bid and ask from the market feed; without the
    feed, the close of the last stored 1 m candle (`source: "candles"`), else nulls. A symbol the
    feed saw the exchange stop listing answers nulls (`source: "none"`), never its last price."""
    name = selectors.symbol_name_get(symbol=symbol)
    row = tickers_cached().get(name)
    if row and row.get("price") is not None:
        return HttpResponse(_feed_ticker_json(name, row), content_type=_JSON)
    if row and row.get(STATE) == UNAVAILABLE:
        return {"symbol": name, "source": "none", "price": None}
    last = selectors.candles_for(symbol=name, interval="1m", limit=1)
    if last:
        return {"symbol": name, "source": "candles", "price": last[0]["close"]}
    return {"symbol": name, "source": "none", "price": None}


_JSON = "application/json; charset=utf-8"  # the NinjaAPI's own content type
_TICKER_FIELDS = ("price", "high", "low", "volume", "quote_volume", "bid", "ask")
# symbol -> (the feed's row, its answer rendered through TickerOut): a read renders again only when the
# feed's snapshot changed (Ninja's validation and rendering were a tenth of a cached read, issue 18).
_tickers_rendered: dict[str, tuple[dict[str, str | None], bytes]] = {}


def _feed_ticker_json(name: str, row: dict[str, str | None]) -> bytes:
    found = _tickers_rendered.get(name)
    if found is not None and found[0] == row:
        return found[1]
    answer = {"symbol": name, "source": "feed", "change_pct": row.get("change")}
    answer.update({f: row.get(f) for f in _TICKER_FIELDS})
    body = json.dumps(TickerOut.model_validate(answer).model_dump(), cls=NinjaJSONEncoder).encode()
    _tickers_rendered[name] = (dict(row), body)
    return body


@router.get("/markets/{symbol}/depth", response=DepthOut, tags=["markets"])
@require_scope("read")
def market_depth(
    request: HttpRequest,
    symbol: str = SYMBOL_PATH,
    limit: int = Query(10, ge=1, le=100, description="Levels per side (the feed keeps ten)"),
) -> dict[str, Any]:
    """The top of the order book of a symbol the market feed watches; empty otherwise."""
    name = selectors.symbol_name_get(symbol=symbol)
    book = book_cached(name)
    if book is None:
        return {"symbol": name, "source": "none", "bids": [], "asks": [], "spread": None}
    bids = [{"price": p, "quantity": q} for p, q in (book.get("bids") or [])[:limit]]
    asks = [{"price": p, "quantity": q} for p, q in (book.get("asks") or [])[:limit]]
    spread = Decimal(asks[0]["price"]) - Decimal(bids[0]["price"]) if bids and asks else None
    return {"symbol": name, "source": "feed", "bids": bids, "asks": asks, "spread": spread}


@router.get("/markets/{symbol}/trades", response=TradesOut, tags=["markets"])
@require_scope("read")
def market_trades(request: HttpRequest, symbol: str = SYMBOL_PATH) -> dict[str, Any]:
    """Recent public trades of a symbol the market feed watches (up to twenty); empty otherwise."""
    name = selectors.symbol_name_get(symbol=symbol)
    book = book_cached(name)
    if book is None:
        return {"symbol": name, "source": "none", "trades": []}
    trades = [
        {
            "price": t["p"],
            "quantity": t["q"],
            "side": t["s"],
            "time": datetime.fromtimestamp(t["t"] / 1000, tz=UTC),
        }
        for t in reversed(book.get("trades") or [])
    ]
    return {"symbol": name, "source": "feed", "trades": trades}


@router.get("/markets/{symbol}/klines", response=KlinesOut, tags=["markets"])
@require_scope("read")
def market_klines(
    request: HttpRequest,
    symbol: str = SYMBOL_PATH,
    interval: KlineInterval = INTERVAL_QUERY,
    limit: int = Query(500, ge=1, le=1000),
) -> dict[str, Any]:
    """Stored candles (the feed records them), oldest first."""
    name = selectors.symbol_name_get(symbol=symbol)
    rows = selectors.candles_for(symbol=name, interval=interval, limit=limit)
    return {"symbol": name, "interval": interval, "klines": rows}


# ---- orders ---------------------------------------------------------------------------------------


@router.get("/orders", response=list[OrderOut], tags=["orders"])
@paginate(Page)
@require_scope("read")
def order_list(
    request: HttpRequest,
    status: OrderStatus | None = STATUS_QUERY,
    open_only: bool = Query(
        False, alias="open", description="Only open orders (pending, new, partly filled)"
    ),
    symbol: str | None = Query(None, max_length=30),
    side: OrderSide | None = SIDE_QUERY,
    mode: TradingMode | None = MODE_QUERY,
) -> _Page:
    """Your orders, newest first. A `symbol` MEXC does not list answers 404 `unknown_symbol`."""
    statuses: str | list[str] | None = status
    if open_only:
        statuses = [s for s in Order.OPEN_STATUSES if status in (None, s)]
    orders = selectors.orders_for_user(
        user=_user(request), status=statuses, symbol=_listed(symbol), side=side, mode=mode
    )
    return _Page(orders if statuses != [] else orders.none(), order_out)


@router.post("/orders", response={201: OrderOut}, tags=["orders"])
@require_scope("trade")
@idempotent
def order_create(request: HttpRequest, payload: OrderIn) -> Status[dict[str, Any]]:
    """Places an order on your current account (paper or live). Amounts are decimal strings. A
    MARKET order takes `quantity` or (buys only) `quote_quantity`; every other type takes `quantity`
    and `price`; an order of another shape answers 422 `validation_error` whose `details` name the
    amounts at fault. Refusals answer 4xx with the service's code (`unknown_symbol`, `below_min_notional`,
    `too_many_decimals`, `insufficient_balance`, `api_trading_disabled`, ...). An order the exchange
    could not confirm is returned `PENDING` and settled by reconciliation."""
    order = services.order_place(user=_user(request), source=Order.Source.API, **payload.model_dump())
    return Status(201, order_out(order))


@router.post("/orders/cancel-all", response=CancelAllOut, tags=["orders"])
@require_scope("trade")
def order_cancel_all(
    request: HttpRequest,
    symbol: str | None = Query(None, min_length=2, max_length=30, description="Only this symbol's orders"),
    payload: CancelAllIn | None = None,
) -> dict[str, Any]:
    """Cancels every open order of your current account, or those on one `symbol`, given in the query
    or in an optional JSON body (`{"symbol": "SOLUSDT"}`); given in both, they must agree. An empty
    body is no body. Any other query parameter (a misspelt `symbl=`) is refused, as on every endpoint:
    422, nothing cancelled."""
    if symbol is None and "symbol" in request.GET:
        # An empty `symbol=` is a mistake, never a request to cancel everything.
        raise InvalidInput(CANCEL_ALL_SYMBOL_WORDS, details=[ErrorDetail("symbol", CANCEL_ALL_SYMBOL_WORDS)])
    canceled = services.order_cancel_all(user=_user(request), symbol=_one_symbol(symbol, payload))
    return {"count": len(canceled), "orders": [order_out(o) for o in canceled]}


def _one_symbol(query: str | None, body: CancelAllIn | None) -> str | None:
    given = body.symbol if body is not None else None
    if query is not None and given is not None and query.strip().upper() != given.strip().upper():
        message = f"symbol is {query} in the query but {given} in the body; give it once"
        raise InvalidInput(message, details=[ErrorDetail("symbol", message)])
    return query if query is not None else given


@router.get("/orders/{order_id}", response=OrderDetailOut, tags=["orders"])
@require_scope("read")
def order_detail(request: HttpRequest, order_id: int = Path(..., ge=1, le=ID_MAX)) -> dict[str, Any]:
    """One of your orders with its fills. Anyone else's order answers 404, like a missing one."""
    order = selectors.order_get_for_user(user=_user(request), order_id=order_id)
    fills = selectors.fills_for_user(user=_user(request), order_id=order.pk)
    return {**order_out(order), "fills": [_fill_out(f) for f in fills]}


@router.delete("/orders/{order_id}", response=OrderOut, tags=["orders"])
@require_scope("trade")
def order_cancel(request: HttpRequest, order_id: int = Path(..., ge=1, le=ID_MAX)) -> dict[str, Any]:
    """Cancels one of your open orders and returns it as it stands afterwards; 409 `conflict` when
    it is no longer open."""
    return order_out(services.order_cancel(user=_user(request), order_id=order_id))


# ---- fills, balances, portfolio -------------------------------------------------------------------


@router.get("/fills", response=list[FillOut], tags=["orders"])
@paginate(Page)
@require_scope("read")
def fill_list(
    request: HttpRequest,
    symbol: str | None = Query(None, max_length=30),
    order_id: int | None = Query(None, ge=1, le=ID_MAX),
) -> _Page:
    """Your trades (the fills of your orders, paper and live), newest first. A `symbol` MEXC does not
    list answers 404 `unknown_symbol`."""
    fills = selectors.fills_for_user(user=_user(request), symbol=_listed(symbol), order_id=order_id)
    return _Page(fills, _fill_out)


@router.get("/balances", response=BalancesOut, tags=["portfolio"])
@require_scope("read")
def balance_list(request: HttpRequest) -> dict[str, Any]:
    """Non-zero balances of your current account (paper or live)."""
    user = _user(request)
    mode = selectors.trading_mode_for_user(user=user)
    balances = selectors.balances_for_user(user=user, mode=mode)
    return {"mode": mode, "balances": [_balance_out(b) for b in balances]}


@router.get("/portfolio", response=PortfolioOut, tags=["portfolio"])
@require_scope("read")
def portfolio_detail(
    request: HttpRequest,
    points: int = Query(500, ge=0, le=2000, description="How many equity points, the latest ones"),
) -> dict[str, Any]:
    """Your current account's value in USDT, holdings with prices and P&L, and the equity history."""
    # The pages' portfolio reads; imported here so the rest of the API does not depend on them.
    from trading import portfolio

    user = _user(request)
    held = portfolio.portfolio_for_user(user=user)
    equity = portfolio.equity_points(user=user, limit=points) if points else []
    return {
        "mode": selectors.trading_mode_for_user(user=user),
        "quote": held.quote,
        "total_value": held.total_value,
        "unrealized_pnl": held.unrealized_pnl,
        "day_pnl": held.day_pnl,
        "holdings": [
            {
                "asset": h.asset,
                "free": h.free,
                "locked": h.locked,
                "market": h.market,
                "price": h.price,
                "value": h.value,
                "allocation_pct": h.allocation_pct,
                "average_cost": h.avg_cost,
                "pnl": h.pnl,
                "pnl_pct": h.pnl_pct,
            }
            for h in held.holdings
        ],
        "equity": [{"time": p["t"], "value": p["v"]} for p in equity],
    }
