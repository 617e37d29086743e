"""What Brute asks of an exchange. MEXC and the paper exchange both satisfy `Exchange`.

Callers hold an `Exchange` and never learn which one it is: every method speaks the plain values of
`trading.exchange.types` and raises only `trading.exchange.errors.ExchangeError` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from trading.exchange.events import UserEvent
from trading.exchange.types import (
    Balance,
    Fill,
    Kline,
    KlineQuery,
    OrderBook,
    OrderRequest,
    OrderState,
    SymbolRules,
    Ticker,
    Trade,
)


@runtime_checkable
class MarketData(Protocol):
    async def server_time(self) -> int:
        """Exchange clock in epoch milliseconds."""
        ...

    async def symbols(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]: ...

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]: ...

    async def ticker(self, symbol: str) -> Ticker: ...

    async def depth(self, symbol: str, *, limit: int = 100) -> OrderBook: ...

    async def trades(self, symbol: str, *, limit: int = 500) -> list[Trade]: ...

    async def klines(self, query: KlineQuery) -> list[Kline]: ...


@runtime_checkable
class Trading(Protocol):
    async def balances(self) -> list[Balance]: ...

    async def place_order(self, request: OrderRequest) -> OrderState:
        """Places once. On an unknown outcome it reconciles by client order id before any retry,
        and raises `OutcomeUnknown` only if the exchange cannot tell whether the order exists."""
        ...

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState: ...

    async def cancel_all(self, symbol: str) -> list[OrderState]: ...

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState: ...

    async def open_orders(self, symbol: str) -> list[OrderState]: ...

    async def my_trades(self, symbol: str, *, order_id: str | None = None) -> list[Fill]:
        """This account's fills on `symbol` (only those of `order_id` when given), the newest 100 at
        most: MEXC's myTrades answers no more."""
        ...


@runtime_checkable
class UserStream(Protocol):
    def user_events(self) -> AsyncIterator[UserEvent]:
        """Order updates, fills and balance changes as they happen, until the stream is closed."""
        ...


@runtime_checkable
class Exchange(MarketData, Trading, Protocol):
    async def aclose(self) -> None: ...
