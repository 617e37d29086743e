"""Request and response schemas of the trading API.

Money and quantities travel as JSON strings ("123.45"), never as numbers, so no client parses them
into binary floats; inputs take the same strings. Enumerations are spelled out (`Literal`), and a
test keeps them equal to the model's choices.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, PlainSerializer, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from config.api_input import InputSchema
from trading import selectors

if TYPE_CHECKING:
    from trading.models import Order

OrderSide = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"]
OrderStatus = Literal[
    "PENDING", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PARTIALLY_CANCELED", "REJECTED"
]
OrderSource = Literal["manual", "api", "rule", "position"]
TradingMode = Literal["paper", "live"]
KlineInterval = Literal["1m", "5m", "15m", "30m", "60m", "4h", "1d"]
SymbolState = Literal["online", "paused", "offline"]
MarketSource = Literal["feed", "candles", "none"]

MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
AMOUNT_PATTERN = r"^[0-9]{1,24}(\.[0-9]{1,18})?$"
# An order's average fill price is shown to its symbol's price precision plus these decimals.
AVERAGE_EXTRA_DECIMALS = 4


def money_text(value: Decimal) -> str:
    """A Decimal as plain notation without trailing zeros: Decimal('10.500000') -> '10.5'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


Money = Annotated[
    Decimal,
    PlainSerializer(money_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "examples": ["123.45"]}),
]
_AMOUNT = re.compile(AMOUNT_PATTERN)
AMOUNT_WORDS = 'Must be a positive decimal number written as a string, e.g. "0.25"'
AMOUNT_DECIMALS, AMOUNT_DIGITS = 18, 24  # AMOUNT_PATTERN's bounds
_REAL_LIMIT = "the symbol's price_precision or quantity_precision (GET /symbols/{symbol}) is the real limit"


def amount_problem(value: str) -> str | None:
    """Why `value` is not an amount (AMOUNT_PATTERN, more than zero), in words that say what is
    wrong and how to write it, or None when it is one."""
    if _AMOUNT.fullmatch(value):
        return "Must be more than zero" if Decimal(value) == 0 else None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return AMOUNT_WORDS
    if not number.is_finite():
        return AMOUNT_WORDS
    if number == 0:
        return "Must be more than zero"
    if number < 0:
        return f'Must be positive: "{value}" is below zero'
    # Counted from the digits, not by writing it out: "1e999999999" must not become a billion zeros.
    written = number.as_tuple()
    coefficient = "".join(map(str, written.digits))
    significant = coefficient.rstrip("0")
    point = int(written.exponent) + len(coefficient) - len(significant)
    decimals, whole = max(0, -point), max(0, len(significant) + point)
    exponent = "e" in value.lower()
    if decimals > AMOUNT_DECIMALS:
        return ("Exponent notation is not accepted, and " if exponent else "") + (
            f'"{value}" has {decimals} decimals: an amount has at most {AMOUNT_DECIMALS}; {_REAL_LIMIT}'
        )
    if whole > AMOUNT_DIGITS:
        return ("Exponent notation is not accepted, and " if exponent else "") + (
            f'"{value}" has {whole} digits before the decimal point: an amount has at most {AMOUNT_DIGITS}'
        )
    plain = money_text(number)
    if exponent:
        return f'Exponent notation is not accepted: write "{value}" as "{plain}"'
    return f'Write "{value}" as "{plain}": digits, at most one decimal point, no sign, spaces or separators'


def _amount_in_words(value: str) -> str:
    """AMOUNT_PATTERN, refused in words (pydantic's own message would quote the regex)."""
    # A zero is refused here too, so its 422 names the field like any other malformed amount does.
    problem = amount_problem(value)
    if problem is not None:
        raise PydanticCustomError("amount", problem)
    return value


AmountIn = Annotated[
    str,
    Field(
        max_length=43,
        description='A positive decimal as a string, e.g. "0.25"',
        examples=["0.25"],
        json_schema_extra={"pattern": AMOUNT_PATTERN},
    ),
    AfterValidator(_amount_in_words),
]


# ---- symbols and market data ----------------------------------------------------------------------


class SymbolOut(Schema):
    symbol: str
    base_asset: str
    quote_asset: str
    status: SymbolState
    trading: bool = Field(..., description="Open for orders on the exchange")
    api_tradable: bool = Field(..., description="The exchange accepts API orders on it (spot, listed)")
    price_precision: int = Field(..., description="Decimal places allowed in a price or quote amount")
    quantity_precision: int = Field(..., description="Decimal places allowed in a quantity")
    min_quantity: Money
    min_notional: Money
    min_notional_market: Money
    max_notional: Money | None
    max_notional_market: Money | None
    maker_commission: Money
    taker_commission: Money
    order_types: list[OrderType]


class TickerOut(Schema):
    symbol: str
    source: MarketSource = Field(
        ...,
        description="`feed`: the market feed's live snapshot; `candles`: the last stored candle (the "
        "feed is not running); `none`: no price known (also when the exchange no longer lists the symbol)",
    )
    price: Money | None
    change_pct: Money | None = Field(None, description="24 h change in percent")
    high: Money | None = None
    low: Money | None = None
    volume: Money | None = None
    quote_volume: Money | None = None
    bid: Money | None = None
    ask: Money | None = None


class BookLevelOut(Schema):
    price: Money
    quantity: Money


class DepthOut(Schema):
    symbol: str
    source: MarketSource = Field(..., description="`feed` when the symbol is watched, else `none` (empty)")
    bids: list[BookLevelOut] = Field(..., description="Best (highest) first")
    asks: list[BookLevelOut] = Field(..., description="Best (lowest) first")
    spread: Money | None


class TradeOut(Schema):
    price: Money
    quantity: Money
    side: OrderSide = Field(..., description="The taker's side")
    time: datetime


class TradesOut(Schema):
    symbol: str
    source: MarketSource
    trades: list[TradeOut] = Field(..., description="Newest first")


class KlineOut(Schema):
    time: int = Field(..., description="Open time, epoch seconds")
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money


class KlinesOut(Schema):
    symbol: str
    interval: KlineInterval
    klines: list[KlineOut] = Field(..., description="Oldest first")


# ---- orders and fills -----------------------------------------------------------------------------


class OrderIn(InputSchema):
    symbol: str = Field(..., min_length=2, max_length=30, pattern=r"^[A-Za-z0-9]+$", examples=["SOLUSDT"])
    side: OrderSide
    type: OrderType
    quantity: AmountIn | None = Field(None, description="Base asset amount")
    quote_quantity: AmountIn | None = Field(
        None, description="Quote asset amount to spend (market buys only)"
    )
    price: AmountIn | None = Field(None, description="Limit price (every type but MARKET)")
    client_order_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Your own id; sending the same one again returns the existing order",
    )


class FillOut(Schema):
    id: int
    order_id: int
    symbol: str
    side: OrderSide
    trade_id: str
    price: Money
    quantity: Money
    quote_quantity: Money
    commission: Money
    commission_asset: str
    is_maker: bool
    time: datetime


class OrderOut(Schema):
    id: int
    client_order_id: str
    exchange_order_id: str
    mode: TradingMode
    source: OrderSource
    symbol: str
    side: OrderSide
    type: OrderType
    status: OrderStatus
    is_open: bool
    quantity: Money | None
    quote_quantity: Money | None
    price: Money | None
    executed_quantity: Money
    cumulative_quote_quantity: Money
    average_price: Money | None = Field(
        ...,
        description="The average fill price, cumulative_quote_quantity / executed_quantity (MEXC's order "
        "query gives no average, only those two), cut (rounded down) to the symbol's price_precision plus "
        f"{AVERAGE_EXTRA_DECIMALS} decimals; null before the first fill",
    )
    error: str = Field(..., description="The exchange's last complaint, empty when none")
    created_at: datetime
    updated_at: datetime


_WIDE = Context(prec=80)  # room for every digit a stored amount can have, so a cut never overflows


def average_price_cut(average: Decimal | None, *, symbol: str) -> Decimal | None:
    """An order's average fill price to the symbol's price_precision plus AVERAGE_EXTRA_DECIMALS, cut
    (the stored quotient carries 18 decimals, which say nothing); as stored for a symbol not listed."""
    precision = None if average is None else selectors.symbol_price_precision(symbol=symbol)
    if average is None or precision is None:
        return average
    step = Decimal(1).scaleb(-(precision + AVERAGE_EXTRA_DECIMALS))
    return average.quantize(step, rounding=ROUND_DOWN, context=_WIDE)


def order_out(order: Order) -> dict[str, Any]:
    """An order as the API and the live events show it (OrderOut's fields)."""
    return {
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "mode": order.mode,
        "source": order.source,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "is_open": order.is_open,
        "quantity": order.quantity,
        "quote_quantity": order.quote_quantity,
        "price": order.price,
        "executed_quantity": order.executed_qty,
        "cumulative_quote_quantity": order.cummulative_quote_qty,
        "average_price": average_price_cut(order.avg_price, symbol=order.symbol),
        "error": order.error,
        "created_at": order.created,
        "updated_at": order.updated,
    }


def order_json(order: Order) -> dict[str, Any]:
    """order_out as JSON values (amounts as plain-notation strings, times in ISO 8601): the live
    `order.changed` event carries it, so a page reads the same fields as an API client."""
    return OrderOut.model_validate(order_out(order)).model_dump(mode="json")


class OrderDetailOut(OrderOut):
    fills: list[FillOut]


CANCEL_ALL_SYMBOL_WORDS = "symbol must name a market, or be left out to cancel every open order"


class CancelAllIn(InputSchema):
    symbol: str | None = Field(
        None,
        min_length=2,
        max_length=30,
        description="Only this symbol's orders (as the `symbol` query parameter; both must agree). "
        "Leave it out to cancel every open order: null and an empty string are refused.",
        examples=["SOLUSDT"],
    )

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol_named(cls, value: object) -> object:
        # An explicit null is a mistake (a bot's unset variable), never a request to cancel everything.
        if value is None:
            raise PydanticCustomError("symbol_null", CANCEL_ALL_SYMBOL_WORDS)
        return value


class CancelAllOut(Schema):
    count: int
    orders: list[OrderOut] = Field(..., description="The orders as they stand after cancelling")


# ---- balances and portfolio -----------------------------------------------------------------------


class BalanceOut(Schema):
    asset: str
    free: Money
    locked: Money
    total: Money


class BalancesOut(Schema):
    mode: TradingMode
    balances: list[BalanceOut]


class HoldingOut(Schema):
    asset: str
    free: Money
    locked: Money
    market: str | None = Field(..., description="The market that prices it, null for the quote asset")
    price: Money | None = Field(..., description="Null while the price is unknown")
    value: Money | None
    allocation_pct: Money
    average_cost: Money | None
    pnl: Money | None
    pnl_pct: Money | None


class EquityPointOut(Schema):
    time: int = Field(..., description="Epoch seconds")
    value: Money


class PortfolioOut(Schema):
    mode: TradingMode
    quote: str = Field(..., description="The asset values are counted in")
    total_value: Money
    unrealized_pnl: Money
    day_pnl: Money | None
    holdings: list[HoldingOut]
    equity: list[EquityPointOut] = Field(..., description="Recorded value over time, oldest first")
