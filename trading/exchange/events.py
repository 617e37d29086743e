"""Decoded stream events: what a market or user-data stream yields, whichever exchange is behind it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.exchange.types import BookLevel, Fill, Kline, OrderStatus, OrderType, Side, Trade


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """Rolling 24 h figures (miniTicker). `change_fraction` is a fraction, not a percentage."""

    symbol: str
    last_price: Decimal
    change_fraction: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class BookTickerEvent:
    symbol: str
    bid_price: Decimal
    bid_quantity: Decimal
    ask_price: Decimal
    ask_quantity: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class DepthEvent:
    """Absolute levels (quantity 0 = delete) covering versions from_version..to_version."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    from_version: int
    to_version: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class DepthSnapshotEvent:
    """Top-N partial book (limit.depth): replaces the whole book, no version chaining."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    version: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class TradesEvent:
    symbol: str
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True)
class KlineEvent:
    kline: Kline


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    symbol: str
    order_id: str
    client_order_id: str | None
    side: Side
    type: OrderType | None
    status: OrderStatus
    price: Decimal
    quantity: Decimal
    quote_amount: Decimal
    average_price: Decimal
    executed_quantity: Decimal
    executed_quote: Decimal
    remaining_quantity: Decimal
    last_fill_quantity: Decimal | None
    is_maker: bool
    time_ms: int


@dataclass(frozen=True, slots=True)
class FillEvent:
    fill: Fill


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    asset: str
    free: Decimal
    locked: Decimal
    free_change: Decimal
    locked_change: Decimal
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class StreamReconnected:
    """The transport was re-established: anything stateful (order books) must re-snapshot."""

    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionRefused:
    topic: str
    reason: str


MarketEvent = TickerEvent | BookTickerEvent | DepthEvent | DepthSnapshotEvent | TradesEvent | KlineEvent
UserEvent = OrderUpdate | FillEvent | BalanceUpdate
ControlEvent = StreamReconnected | SubscriptionRefused
StreamEvent = MarketEvent | UserEvent | ControlEvent
