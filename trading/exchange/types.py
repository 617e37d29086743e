"""Plain value types every exchange adapter (MEXC, paper) speaks. Money is Decimal end to end."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"
    # MEXC has no timeInForce parameter: IOC and FOK are order types of their own.
    IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL"
    FILL_OR_KILL = "FILL_OR_KILL"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PARTIALLY_CANCELED = "PARTIALLY_CANCELED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class SymbolStatus(StrEnum):
    ONLINE = "1"
    PAUSED = "2"
    OFFLINE = "3"
    # A value MEXC sent that Brute does not know ("4", null, ""): the symbol is shown, not tradable.
    UNKNOWN = "0"


class TradeSides(StrEnum):
    """`tradeSideType`: which directions the exchange currently accepts for a symbol."""

    ALL = "1"
    BUY_ONLY = "2"
    SELL_ONLY = "3"
    CLOSED = "4"


PRICED_TYPES = frozenset(
    {OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.IMMEDIATE_OR_CANCEL, OrderType.FILL_OR_KILL}
)
CLIENT_ORDER_ID_MAX = 32


@dataclass(frozen=True, slots=True)
class SymbolRules:
    symbol: str
    base_asset: str
    quote_asset: str
    status: SymbolStatus
    api_tradable: bool
    spot_trading_allowed: bool
    trade_sides: TradeSides
    price_decimals: int
    quantity_decimals: int
    min_quantity: Decimal
    min_notional: Decimal
    min_notional_market: Decimal
    max_notional: Decimal | None
    max_notional_market: Decimal | None
    maker_commission: Decimal
    taker_commission: Decimal
    order_types: frozenset[OrderType]
    # PERCENT_PRICE_BY_SIDE: buy price <= last * bid_multiplier_up, sell price >= last * ask_multiplier_down.
    bid_multiplier_up: Decimal | None = None
    ask_multiplier_down: Decimal | None = None

    @property
    def is_trading(self) -> bool:
        return (
            self.status == SymbolStatus.ONLINE
            and self.spot_trading_allowed
            and self.trade_sides != TradeSides.CLOSED
        )

    def allows_side(self, side: Side) -> bool:
        if self.trade_sides == TradeSides.ALL:
            return True
        wanted = TradeSides.BUY_ONLY if side == Side.BUY else TradeSides.SELL_ONLY
        return self.trade_sides == wanted


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last_price: Decimal
    bid_price: Decimal | None
    bid_quantity: Decimal | None
    ask_price: Decimal | None
    ask_quantity: Decimal | None
    open_price: Decimal | None
    high_price: Decimal | None
    low_price: Decimal | None
    volume: Decimal | None
    quote_volume: Decimal | None
    # A fraction: Decimal("0.0173") is +1.73 %.
    change_fraction: Decimal | None
    time_ms: int | None


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    symbol: str
    last_update_id: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    time_ms: int | None = None

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    price: Decimal
    quantity: Decimal
    time_ms: int
    taker_side: Side
    trade_id: str | None = None

    @property
    def quote_quantity(self) -> Decimal:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Kline:
    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal


@dataclass(frozen=True, slots=True)
class KlineQuery:
    """One read of candles. `interval` is Brute's name (1m 5m 15m 30m 1h 4h 1d 1w 1M; adapters
    translate it); `start_ms` and `end_ms` bound the candles' open times in epoch milliseconds; at most
    `limit` candles, the newest (MEXC answers at most 1000)."""

    symbol: str
    interval: str
    start_ms: int | None = None
    end_ms: int | None = None
    limit: int = 500


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as Brute wants it. `client_order_id` is the idempotency key: retries reuse it."""

    symbol: str
    side: Side
    type: OrderType
    client_order_id: str
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    price: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id or len(self.client_order_id) > CLIENT_ORDER_ID_MAX:
            raise ValueError(f"client_order_id must be 1-{CLIENT_ORDER_ID_MAX} characters")
        if self.type == OrderType.MARKET:
            if (self.quantity is None) == (self.quote_quantity is None):
                raise ValueError("a market order takes exactly one of quantity or quote_quantity")
            if self.price is not None:
                raise ValueError("a market order takes no price")
        else:
            if self.quantity is None or self.price is None or self.quote_quantity is not None:
                raise ValueError(f"a {self.type} order takes a quantity and a price")
        for amount in (self.quantity, self.quote_quantity, self.price):
            if amount is not None and amount <= 0:
                raise ValueError("amounts must be positive")


@dataclass(frozen=True, slots=True)
class OrderState:
    symbol: str
    order_id: str
    client_order_id: str | None
    side: Side
    type: OrderType
    status: OrderStatus
    price: Decimal | None
    orig_quantity: Decimal | None
    executed_quantity: Decimal
    cumulative_quote_quantity: Decimal
    orig_quote_quantity: Decimal | None = None
    time_ms: int | None = None
    update_time_ms: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def average_price(self) -> Decimal | None:
        # For MARKET orders `price` is only a reference; the fill price is quote / base.
        if not self.executed_quantity:
            return None
        return self.cumulative_quote_quantity / self.executed_quantity


@dataclass(frozen=True, slots=True)
class Fill:
    symbol: str
    trade_id: str
    order_id: str
    client_order_id: str | None
    side: Side
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int
