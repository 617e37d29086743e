"""Reads of live market data for pages: the feed's cache snapshots joined with the Symbol table.

The market feed keeps prices in memory and writes compact snapshots into the cache; a page's first
paint comes from here, and the live socket takes over from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict, Unpack

from trading.exchange.parsing import dec
from trading.feed.state import STATE, UNAVAILABLE
from trading.feed.store import TICKERS_KEY, book_cached, book_key, tickers_cached  # noqa: F401  (re-exported: callers knew them here)
from trading.models import Symbol

MARKETS_PAGE_SIZE = 200
BOOK_LEVELS = 10
BOOK_DEPTHS = (5, 10, 20)  # levels a side the market page offers (the feed keeps 20)


def tickers_snapshot() -> dict[str, dict[str, Any]]:
    return tickers_cached()


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
    decimals: int = 8

    @property
    def change_negative(self) -> bool:
        return bool(self.change_pct and self.change_pct.startswith("-"))


def _sort_key(sort: str, tickers: dict[str, dict[str, Any]]) -> Callable[[Symbol], Any]:
    def number(symbol: Symbol, field: str) -> Decimal:
        return dec(tickers.get(symbol.symbol, {}).get(field), None) or Decimal(-(10**30))

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
            decimals=s.price_precision,
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


def ticker_unavailable(symbol: str) -> bool:
    """True when the feed saw the exchange stop listing `symbol` (delisted, or restarted without it):
    the page then says there is no live price instead of showing a blank as if one were coming."""
    return tickers_snapshot().get(symbol, {}).get(STATE) == UNAVAILABLE


def last_price(symbol: str) -> Decimal | None:
    return dec(tickers_snapshot().get(symbol, {}).get("price"), None)


def _ladder(levels: list[list[str]], top: Decimal, depth: int) -> list[dict[str, Any]]:
    """Levels with the running quote value (price x quantity), as the live updates show it."""
    out: list[dict[str, Any]] = []
    cumulative = Decimal(0)
    for price, quantity in levels[:depth]:
        cumulative += Decimal(price) * Decimal(quantity)
        depth_pct = int(cumulative / top * 100) if top else 0
        out.append({"price": price, "quantity": quantity, "cumulative": cumulative, "depth_pct": depth_pct})
    return out


def book_for(symbol: str, *, depth: int = BOOK_LEVELS) -> dict[str, Any]:
    """The ladder for the first paint, `depth` levels a side: asks from the highest shown down to the
    best, then bids."""
    snapshot = book_cached(symbol) or {}
    asks, bids = snapshot.get("asks") or [], snapshot.get("bids") or []
    total = max(
        sum((Decimal(p) * Decimal(q) for p, q in asks[:depth]), Decimal(0)),
        sum((Decimal(p) * Decimal(q) for p, q in bids[:depth]), Decimal(0)),
    )
    spread = None
    if asks and bids:
        spread = (Decimal(asks[0][0]) - Decimal(bids[0][0])).normalize()
    return {
        "asks": list(reversed(_ladder(asks, total, depth))),
        "bids": _ladder(bids, total, depth),
        "spread": spread,
        "depth": depth,
    }


def trades_for(symbol: str) -> list[dict[str, Any]]:
    snapshot = book_cached(symbol) or {}
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
        if (change := dec(row.get("change"), None)) is not None and dec(row.get("quote_volume") or 0, None)
    ]
    rows.sort(key=lambda item: item[0], reverse=True)
    rows = rows[:limit]
    decimals = dict(
        Symbol.objects.filter(symbol__in=[s for _, s, _ in rows]).values_list("symbol", "price_precision")
    )
    return [
        {
            "symbol": symbol,
            "price": row.get("price"),
            "decimals": decimals.get(symbol, 8),
            "change_pct": row.get("change"),
            "change_negative": str(row.get("change", "")).startswith("-"),
        }
        for _, symbol, row in rows
    ]


def _round_down(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN")


# The paper exchange cuts a quote-sized buy's last level at this many decimals (see
# trading/exchange/paper.py QUOTE_FILL_DECIMALS); the preview does the same sum.
QUOTE_FILL_DECIMALS = 8


def _levels(symbol: str, side: str) -> list[tuple[Decimal, Decimal]]:
    """The cached book side a taker order would walk: asks for a buy, bids for a sell."""
    snapshot = book_cached(symbol) or {}
    rows = snapshot.get("asks" if side == "BUY" else "bids") or []
    return [(Decimal(p), Decimal(q)) for p, q in rows]


def best_price(symbol: str, side: str) -> Decimal | None:
    """What a market order would start at: the best ask for a buy, the best bid for a sell."""
    levels = _levels(symbol, side)
    if levels:
        return levels[0][0]
    return last_price(symbol)


def quantity_for_quote(*, symbol: Symbol, side: str, quote: Decimal, price: Decimal | None = None) -> Decimal:
    """The base quantity, rounded down to the lot, that `quote` buys or sells at `price` (a limit) or at
    the best price now (a market sell sized in quote). 0 when there is no price to go by."""
    at = price or best_price(symbol.symbol, "SELL" if side == "SELL" else "BUY")
    if not at or at <= 0:
        return Decimal(0)
    return _round_down(quote / at, symbol.quantity_precision)


def amount_for_percent(
    *, symbol: Symbol, balances: dict[str, Decimal], side: str, amount_in: str, percent: int
) -> Decimal:
    """A share of the available balance, in the unit the form asks for, rounded down to the symbol's rules.
    A sell is always sized in the base coin, so 100 % sells everything the lot allows (no dust left
    that could have been sold)."""
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


def _walk(
    levels: list[tuple[Decimal, Decimal]], *, quantity: Decimal | None, quote: Decimal | None, lot: int
) -> tuple[Decimal, Decimal]:
    """(base quantity, quote value) a taker order takes from `levels`, the way the paper exchange does."""
    got, value = Decimal(0), Decimal(0)
    for price, available in levels:
        if quote is not None:
            take = min(available, _round_down((quote - value) / price, max(lot, QUOTE_FILL_DECIMALS)))
        else:
            take = min(available, (quantity or Decimal(0)) - got)
        if take <= 0:
            break
        got, value = got + take, value + take * price
    return got, value


class PreviewTerms(TypedDict):
    """An order's terms as `order_preview` reads them (the order form's `order_arguments`)."""

    side: str
    type: str
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None


def order_preview(
    *, symbol: Symbol, available: dict[str, Decimal] | None = None, **terms: Unpack[PreviewTerms]
) -> dict[str, Any]:
    """What the order will really do at the current book: average price, what is paid, what is
    received, and the fee in the asset it is charged in (the asset received, as on MEXC spot: the coin
    on a buy, the quote asset on a sell). Market orders are estimates (`estimated`); `short` says the
    shown book cannot fill all of it. Given the free balances (`available`), `exceeds` says when the
    order needs more than there is: {"asset", "available", "places"}, else None."""
    preview = _preview(symbol, terms)
    preview["exceeds"] = None
    if available is not None:
        preview["exceeds"] = _exceeds(symbol, terms, preview, available)
    return preview


def _exceeds(
    symbol: Symbol, terms: PreviewTerms, preview: dict[str, Any], available: dict[str, Decimal]
) -> dict[str, Any] | None:
    """What the order spends against what is free: the quote amount or limit value of a buy (else the
    book's estimate of it), the coin of a sell; shown as the form's balance line shows it."""
    quantity, price = terms["quantity"], terms["price"]
    if terms["side"] == "BUY":
        asset, places = symbol.quote_asset, 2
        needed = terms["quote_quantity"]
        if needed is None and price is not None and quantity is not None:
            needed = price * quantity
        if needed is None and preview.get("price") is not None:
            needed = preview["pay"]
    else:
        asset, places, needed = symbol.base_asset, symbol.quantity_precision, quantity
    free = available.get(asset, Decimal(0))
    if needed is None or needed <= free:
        return None
    return {"asset": asset, "available": free, "places": places}


def _preview(symbol: Symbol, terms: PreviewTerms) -> dict[str, Any]:
    side, quantity, quote_quantity, price = (
        terms["side"],
        terms["quantity"],
        terms["quote_quantity"],
        terms["price"],
    )
    base, quote_asset = symbol.base_asset, symbol.quote_asset
    empty = {"estimated": True, "short": False, "price": None}
    if price is not None:  # a limit order: its own price; it takes the taker rate only if it crosses now
        qty = quantity or Decimal(0)
        value = qty * price
        best = best_price(symbol.symbol, side)
        crosses = best is not None and (price >= best if side == "BUY" else price <= best)
        rate = symbol.taker_commission if crosses else symbol.maker_commission
        estimated, short = False, False
    else:
        levels = _levels(symbol.symbol, side)
        if not levels:
            return empty
        qty, value = _walk(levels, quantity=quantity, quote=quote_quantity, lot=symbol.quantity_precision)
        if qty <= 0:
            return empty
        if quote_quantity is not None:
            short = value < quote_quantity - symbol.price_step
            value = value if short else quote_quantity  # what MEXC's quoteOrderQty spends, exactly
        else:
            short = qty < (quantity or 0)
        rate, estimated = symbol.taker_commission, True
    if side == "BUY":
        fee, fee_asset = qty * rate, base
        pay, pay_asset, receive, receive_asset = value, quote_asset, qty - fee, base
    else:
        fee, fee_asset = value * rate, quote_asset
        pay, pay_asset, receive, receive_asset = qty, base, value - fee, quote_asset
    return {
        "price": _round_down(value / qty, symbol.price_precision + 4).normalize() if qty else None,
        "quantity": qty.normalize(),
        "pay": (pay if side == "SELL" else _round_down(pay, symbol.price_precision)).normalize(),
        "pay_asset": pay_asset,
        "receive": _round_down(receive, QUOTE_FILL_DECIMALS).normalize(),
        "receive_asset": receive_asset,
        "fee": _round_down(fee, QUOTE_FILL_DECIMALS).normalize(),
        "fee_asset": fee_asset,
        "estimated": estimated,
        "short": short,
    }
