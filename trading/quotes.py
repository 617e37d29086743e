"""Reads of live market data for pages: the feed's cache snapshots joined with the Symbol table.

The market feed keeps prices in memory and writes compact snapshots into the cache; a page's first
paint comes from here, and the live socket takes over from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache

from trading.feed.store import TICKERS_KEY, book_key
from trading.models import Symbol

MARKETS_PAGE_SIZE = 200
BOOK_LEVELS = 12


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def tickers_snapshot() -> dict[str, dict[str, Any]]:
    snapshot = cache.get(TICKERS_KEY)
    return snapshot if isinstance(snapshot, dict) else {}


@dataclass(frozen=True)
class MarketRow:
    symbol: str
    base: str
    quote: str
    price: str | None
    change_pct: str | None
    quote_volume: str | None
    api_tradable: bool
    trading: bool
    favourite: bool

    @property
    def change_negative(self) -> bool:
        return bool(self.change_pct and self.change_pct.startswith("-"))


def _sort_key(sort: str, tickers: dict[str, dict[str, Any]]) -> Callable[[Symbol], Any]:
    def number(symbol: Symbol, field: str) -> Decimal:
        return _decimal(tickers.get(symbol.symbol, {}).get(field)) or Decimal(-(10**30))

    if sort == "change":
        return lambda s: number(s, "change")
    if sort == "price":
        return lambda s: number(s, "price")
    if sort == "symbol":
        return lambda s: s.symbol
    return lambda s: number(s, "quote_volume")


def market_rows(
    *,
    search: str = "",
    quote: str = "",
    sort: str = "volume",
    favourites: frozenset[str] = frozenset(),
    favourites_only: bool = False,
    limit: int = MARKETS_PAGE_SIZE,
) -> tuple[list[MarketRow], int]:
    """Every symbol matching the filters, sorted, with its live price; returns (rows, total count)."""
    symbols = Symbol.objects.exclude(status="3")
    if search:
        symbols = symbols.filter(symbol__icontains=search.strip().upper())
    if quote:
        symbols = symbols.filter(quote_asset=quote.upper())
    if favourites_only:
        symbols = symbols.filter(symbol__in=favourites)
    tickers = tickers_snapshot()
    ordered = sorted(symbols, key=_sort_key(sort, tickers), reverse=sort != "symbol")
    rows = [
        MarketRow(
            symbol=s.symbol,
            base=s.base_asset,
            quote=s.quote_asset,
            price=tickers.get(s.symbol, {}).get("price"),
            change_pct=tickers.get(s.symbol, {}).get("change"),
            quote_volume=tickers.get(s.symbol, {}).get("quote_volume"),
            api_tradable=s.api_tradable,
            trading=s.is_trading,
            favourite=s.symbol in favourites,
        )
        for s in ordered[:limit]
    ]
    return rows, len(ordered)


def quote_assets() -> list[str]:
    return list(
        Symbol.objects.order_by().values_list("quote_asset", flat=True).distinct().order_by("quote_asset")
    )


def ticker_for(symbol: str) -> dict[str, Any] | None:
    row = tickers_snapshot().get(symbol)
    if not row or row.get("price") is None:
        return None
    return {
        "price": row["price"],
        "change_pct": row.get("change"),
        "quote_volume": row.get("quote_volume"),
        **row,
    }


def last_price(symbol: str) -> Decimal | None:
    return _decimal(tickers_snapshot().get(symbol, {}).get("price"))


def _ladder(levels: list[list[str]], top: Decimal) -> list[dict[str, Any]]:
    """Levels with the running quote value (price x quantity), as the live updates show it."""
    out: list[dict[str, Any]] = []
    cumulative = Decimal(0)
    for price, quantity in levels[:BOOK_LEVELS]:
        cumulative += Decimal(price) * Decimal(quantity)
        depth_pct = int(cumulative / top * 100) if top else 0
        out.append({"price": price, "quantity": quantity, "cumulative": cumulative, "depth_pct": depth_pct})
    return out


def book_for(symbol: str) -> dict[str, Any]:
    """The ladder for the first paint: asks from the highest shown down to the best, then bids."""
    snapshot = cache.get(book_key(symbol)) or {}
    asks, bids = snapshot.get("asks") or [], snapshot.get("bids") or []
    depth = max(
        sum((Decimal(p) * Decimal(q) for p, q in asks[:BOOK_LEVELS]), Decimal(0)),
        sum((Decimal(p) * Decimal(q) for p, q in bids[:BOOK_LEVELS]), Decimal(0)),
    )
    spread = None
    if asks and bids:
        spread = (Decimal(asks[0][0]) - Decimal(bids[0][0])).normalize()
    return {"asks": list(reversed(_ladder(asks, depth))), "bids": _ladder(bids, depth), "spread": spread}


def trades_for(symbol: str) -> list[dict[str, Any]]:
    snapshot = cache.get(book_key(symbol)) or {}
    return [
        {
            "price": t["p"],
            "quantity": t["q"],
            "side": t["s"],
            "time": datetime.fromtimestamp(t["t"] / 1000, tz=UTC),
        }
        for t in reversed(snapshot.get("trades") or [])
    ]


def top_movers(*, limit: int = 8) -> list[dict[str, Any]]:
    rows = [
        (abs(change), symbol, row)
        for symbol, row in tickers_snapshot().items()
        if (change := _decimal(row.get("change"))) is not None and _decimal(row.get("quote_volume") or 0)
    ]
    rows.sort(key=lambda item: item[0], reverse=True)
    return [
        {
            "symbol": symbol,
            "price": row.get("price"),
            "change_pct": row.get("change"),
            "change_negative": str(row.get("change", "")).startswith("-"),
        }
        for _, symbol, row in rows[:limit]
    ]


def _round_down(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")


def best_price(symbol: str, side: str) -> Decimal | None:
    """What a market order would start at: the best ask for a buy, the best bid for a sell."""
    snapshot = cache.get(book_key(symbol)) or {}
    levels = snapshot.get("asks" if side == "BUY" else "bids") or []
    if levels:
        return Decimal(levels[0][0])
    return last_price(symbol)


def amount_for_percent(
    *, symbol: Symbol, balances: dict[str, Decimal], side: str, amount_in: str, percent: int
) -> Decimal:
    """A share of the available balance, in the unit the form asks for, rounded down to the symbol's rules."""
    share = Decimal(min(max(percent, 0), 100)) / 100
    if side == "SELL":
        return _round_down(balances.get(symbol.base_asset, Decimal(0)) * share, symbol.quantity_precision)
    spend = balances.get(symbol.quote_asset, Decimal(0)) * share
    if amount_in == "quote":
        return _round_down(spend, symbol.price_precision)
    price = best_price(symbol.symbol, "BUY")
    if not price:
        return Decimal(0)
    # Leave room for the taker fee so a 100% buy is not refused for the fee it owes.
    return _round_down(spend / (price * (1 + symbol.taker_commission)), symbol.quantity_precision)


def order_preview(
    *,
    symbol: Symbol,
    side: str,
    type: str,
    quantity: Decimal | None,
    quote_quantity: Decimal | None,
    price: Decimal | None,
) -> dict[str, Any]:
    """Price, quantity, fee and total at the current book (estimates for market orders)."""
    estimated = price is None
    at = price or best_price(symbol.symbol, side)
    if at is None or at <= 0:
        return {
            "price": "—",
            "quantity": "—",
            "fee": "—",
            "fee_asset": symbol.quote_asset,
            "total": "—",
            "estimated": True,
        }
    if quantity is None:
        quantity = _round_down((quote_quantity or Decimal(0)) / at, symbol.quantity_precision)
    notional = quote_quantity if quote_quantity is not None else quantity * at
    fee = notional * symbol.taker_commission
    total = notional + fee if side == "BUY" else notional - fee
    return {
        "price": at.normalize(),
        "quantity": quantity.normalize(),
        "fee": _round_down(fee, 8).normalize(),
        "fee_asset": symbol.quote_asset,
        "total": _round_down(total, symbol.price_precision).normalize(),
        "estimated": estimated,
    }
