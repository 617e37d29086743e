"""Local order book from MEXC's aggre.depth stream, following the documented procedure:
subscribe first, then snapshot (REST /depth, `lastUpdateId` = version), drop pushes older than the
snapshot, start with the push whose range covers it, then demand fromVersion == previous toVersion + 1;
any gap or reconnect forces a fresh snapshot. Push quantities are absolute levels; 0 deletes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import Enum

from trading.exchange.events import DepthEvent, StreamReconnected
from trading.exchange.types import BookLevel, OrderBook


class Applied(Enum):
    APPLIED = "applied"
    STALE = "stale"
    GAP = "gap"


class BookState:
    """The synchronous core: levels plus the version they reflect."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.version: int | None = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self._first = True

    @property
    def synced(self) -> bool:
        return self.version is not None

    def load(self, snapshot: OrderBook) -> None:
        self.bids = {lv.price: lv.quantity for lv in snapshot.bids if lv.quantity}
        self.asks = {lv.price: lv.quantity for lv in snapshot.asks if lv.quantity}
        self.version = snapshot.last_update_id
        self._first = True

    def invalidate(self) -> None:
        self.version = None

    def apply(self, event: DepthEvent) -> Applied:
        if self.version is None:
            return Applied.GAP
        if event.to_version < self.version or (not self._first and event.to_version <= self.version):
            return Applied.STALE
        # First push after a snapshot must cover its version (from <= v); a push starting at v + 1 also
        # joins without a hole. After that the chain must be exact.
        expected_ok = (
            event.from_version <= self.version + 1 if self._first else event.from_version == self.version + 1
        )
        if not expected_ok:
            self.version = None
            return Applied.GAP
        self._merge(self.bids, event.bids)
        self._merge(self.asks, event.asks)
        self.version = event.to_version
        self._first = False
        return Applied.APPLIED

    @staticmethod
    def _merge(side: dict[Decimal, Decimal], levels: tuple[BookLevel, ...]) -> None:
        for lv in levels:
            if lv.quantity:
                side[lv.price] = lv.quantity
            else:
                side.pop(lv.price, None)

    def view(self, depth: int = 20) -> OrderBook:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return OrderBook(
            symbol=self.symbol,
            last_update_id=self.version or 0,
            bids=tuple(BookLevel(p, q) for p, q in bids),
            asks=tuple(BookLevel(p, q) for p, q in asks),
        )


class LocalOrderBook:
    """Feed it the symbol's DepthEvents (and StreamReconnected); it snapshots when it must."""

    def __init__(self, symbol: str, fetch_snapshot: Callable[[], Awaitable[OrderBook]]) -> None:
        self.state = BookState(symbol)
        self._fetch = fetch_snapshot
        self.snapshots = 0
        self.gaps = 0

    @property
    def synced(self) -> bool:
        return self.state.synced

    async def on_event(self, event: DepthEvent | StreamReconnected) -> bool:
        """Returns True when the visible book changed."""
        if isinstance(event, StreamReconnected):
            self.state.invalidate()
            return False
        if event.symbol != self.state.symbol:
            return False
        if not self.state.synced:
            await self._resnapshot()
        result = self.state.apply(event)
        if result is Applied.GAP:
            self.gaps += 1
            await self._resnapshot()
            result = self.state.apply(event)
            if result is Applied.GAP:
                # The snapshot is older than this push; the next push triggers another attempt.
                self.state.invalidate()
        return result is Applied.APPLIED

    async def _resnapshot(self) -> None:
        self.snapshots += 1
        self.state.load(await self._fetch())

    def view(self, depth: int = 20) -> OrderBook:
        return self.state.view(depth)
