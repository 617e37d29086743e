"""Lenient conversion of MEXC JSON into value types.

MEXC sends numbers as strings or ints depending on endpoint and vintage, ids as strings or ints, and
some fields as null or "". Everything money-like becomes Decimal; orderId stays an opaque string.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from trading.exchange.types import (
    Balance,
    BookLevel,
    Fill,
    Kline,
    OrderBook,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    SymbolRules,
    SymbolStatus,
    Ticker,
    Trade,
    TradeSides,
)

log = logging.getLogger(__name__)

Json = Mapping[str, Any]
ZERO = Decimal(0)

# Brute's interval names -> MEXC REST names (MEXC has 60m not 1h, 1W not 1w).
REST_INTERVALS = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "60m",
    "60m": "60m",
    "4h": "4h",
    "1d": "1d",
    "1w": "1W",
    "1W": "1W",
    "1M": "1M",
}
WS_INTERVALS = {
    "1m": "Min1",
    "5m": "Min5",
    "15m": "Min15",
    "30m": "Min30",
    "1h": "Min60",
    "4h": "Hour4",
    "8h": "Hour8",
    "1d": "Day1",
    "1w": "Week1",
    "1M": "Month1",
}
FROM_WS_INTERVAL = {v: k for k, v in WS_INTERVALS.items()}


def dec(value: Any, default: Decimal | None = ZERO) -> Decimal | None:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def d(value: Any) -> Decimal:
    """Required decimal: missing/blank reads as zero."""
    result = dec(value, ZERO)
    assert result is not None
    return result


def opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def symbol_status(symbol: str, value: Any) -> SymbolStatus:
    """MEXC's status "1"/"2"/"3". Before 2024-08-16 it sent "ENABLED" (online). Anything else ("4",
    null, "") is logged and read as UNKNOWN, which is not tradable: one odd symbol must not stop the
    sync of the others."""
    if value == "ENABLED":
        return SymbolStatus.ONLINE
    text = "" if value is None else str(value)
    if text in SymbolStatus._value2member_map_ and text != SymbolStatus.UNKNOWN:
        return SymbolStatus(text)
    log.warning("symbol %s: unknown status %r, shown as not tradable", symbol, value)
    return SymbolStatus.UNKNOWN


def symbols_rules(raws: Any, *, api_symbols: frozenset[str] | None) -> list[SymbolRules]:
    """Each exchangeInfo entry that parses; one that does not is logged and left out, never failing
    the rest."""
    found = []
    for raw in raws or ():
        try:
            found.append(symbol_rules(raw, api_symbols=api_symbols))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            name = raw.get("symbol") if isinstance(raw, Mapping) else None
            log.warning("symbol %r left out of the sync: %r", name, exc)
    return found


def symbol_rules(raw: Json, *, api_symbols: frozenset[str] | None) -> SymbolRules:
    bid_up = ask_down = None
    for f in raw.get("filters") or ():
        if f.get("filterType") == "PERCENT_PRICE_BY_SIDE":
            bid_up, ask_down = dec(f.get("bidMultiplierUp"), None), dec(f.get("askMultiplierDown"), None)
    symbol = str(raw["symbol"])
    sides = str(raw.get("tradeSideType") or "1")
    return SymbolRules(
        symbol=symbol,
        base_asset=str(raw.get("baseAsset", "")),
        quote_asset=str(raw.get("quoteAsset", "")),
        status=symbol_status(symbol, raw.get("status")),
        api_tradable=api_symbols is None or symbol in api_symbols,
        spot_trading_allowed=bool(raw.get("isSpotTradingAllowed", True)),
        trade_sides=TradeSides(sides) if sides in TradeSides._value2member_map_ else TradeSides.ALL,
        # The names mislead: *AssetPrecision are decimal places, *Size/AmountPrecision are minimums.
        price_decimals=int(raw.get("quoteAssetPrecision", raw.get("quotePrecision", 8))),
        quantity_decimals=int(raw.get("baseAssetPrecision", 8)),
        min_quantity=d(raw.get("baseSizePrecision")),
        min_notional=d(raw.get("quoteAmountPrecision")),
        min_notional_market=d(raw.get("quoteAmountPrecisionMarket", raw.get("quoteAmountPrecision"))),
        max_notional=dec(raw.get("maxQuoteAmount"), None),
        max_notional_market=dec(raw.get("maxQuoteAmountMarket"), None),
        maker_commission=d(raw.get("makerCommission")),
        taker_commission=d(raw.get("takerCommission")),
        order_types=frozenset(
            OrderType(t) for t in raw.get("orderTypes") or () if t in OrderType._value2member_map_
        ),
        bid_multiplier_up=bid_up,
        ask_multiplier_down=ask_down,
    )


def ticker(raw: Json) -> Ticker:
    return Ticker(
        symbol=str(raw["symbol"]),
        last_price=d(raw.get("lastPrice", raw.get("price"))),
        bid_price=dec(raw.get("bidPrice"), None),
        bid_quantity=dec(raw.get("bidQty"), None),
        ask_price=dec(raw.get("askPrice"), None),
        ask_quantity=dec(raw.get("askQty"), None),
        open_price=dec(raw.get("openPrice"), None),
        high_price=dec(raw.get("highPrice"), None),
        low_price=dec(raw.get("lowPrice"), None),
        volume=dec(raw.get("volume"), None),
        quote_volume=dec(raw.get("quoteVolume"), None),
        change_fraction=dec(raw.get("priceChangePercent"), None),
        time_ms=opt_int(raw.get("closeTime")),
    )


def levels(rows: Any) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in rows or ())


def order_book(symbol: str, raw: Json) -> OrderBook:
    return OrderBook(
        symbol=symbol,
        last_update_id=int(raw["lastUpdateId"]),
        bids=levels(raw.get("bids")),
        asks=levels(raw.get("asks")),
        time_ms=opt_int(raw.get("timestamp")),
    )


def trade(symbol: str, raw: Json) -> Trade:
    # isBuyerMaker: the resting order was a buy, so the aggressor (taker) sold.
    return Trade(
        symbol=symbol,
        price=d(raw.get("price")),
        quantity=d(raw.get("qty")),
        time_ms=int(raw["time"]),
        taker_side=Side.SELL if raw.get("isBuyerMaker") else Side.BUY,
        trade_id=opt_str(raw.get("id")),
    )


def kline(symbol: str, interval: str, row: Any) -> Kline:
    open_time, o, h, low, c, v, close_time, qv, *_ = row
    return Kline(
        symbol=symbol,
        interval=interval,
        open_time_ms=int(open_time),
        close_time_ms=int(close_time),
        open=d(o),
        high=d(h),
        low=d(low),
        close=d(c),
        volume=d(v),
        quote_volume=d(qv),
    )


def balance(raw: Json) -> Balance:
    return Balance(asset=str(raw["asset"]), free=d(raw.get("free")), locked=d(raw.get("locked")))


def order_state(raw: Json) -> OrderState:
    return OrderState(
        symbol=str(raw["symbol"]),
        order_id=str(raw["orderId"]),
        client_order_id=opt_str(raw.get("clientOrderId", raw.get("origClientOrderId"))),
        side=Side(str(raw["side"])),
        type=OrderType(str(raw["type"])),
        status=OrderStatus(str(raw.get("status") or "NEW")),
        price=dec(raw.get("price"), None),
        orig_quantity=dec(raw.get("origQty"), None),
        executed_quantity=d(raw.get("executedQty")),
        # Spelled with two m's on the wire; accept the corrected spelling too.
        cumulative_quote_quantity=d(raw.get("cummulativeQuoteQty", raw.get("cumulativeQuoteQty"))),
        orig_quote_quantity=dec(raw.get("origQuoteOrderQty"), None),
        time_ms=opt_int(raw.get("time", raw.get("transactTime"))),
        update_time_ms=opt_int(raw.get("updateTime")),
    )


def fill(raw: Json) -> Fill:
    return Fill(
        symbol=str(raw["symbol"]),
        trade_id=str(raw["id"]),
        order_id=str(raw["orderId"]),
        client_order_id=opt_str(raw.get("clientOrderId")),
        side=Side.BUY if raw.get("isBuyer") else Side.SELL,
        price=d(raw.get("price")),
        quantity=d(raw.get("qty")),
        quote_quantity=d(raw.get("quoteQty")),
        commission=d(raw.get("commission")),
        commission_asset=str(raw.get("commissionAsset") or ""),
        is_maker=bool(raw.get("isMaker")),
        time_ms=int(raw["time"]),
    )


def unwrap(body: Any) -> Any:
    """tradeFee/defaultSymbols wrap success as {"data", "code": 0 or 200, "msg", "timestamp"}."""
    if isinstance(body, Mapping) and "data" in body and "code" in body:
        return body["data"]
    return body
