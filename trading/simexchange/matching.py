"""Price-time priority order book shared by client orders and the simulated liquidity."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

ZERO = Decimal(0)
BUY = "BUY"
SELL = "SELL"
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


def opposite(side: str) -> str:
    return SELL if side == BUY else BUY


@dataclass(eq=False)
class Order:
    """One order. ``account`` is None for the simulated market makers, whose balances are not tracked."""

    order_id: str
    symbol: str
    side: str
    type: str
    price: Decimal | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    created: int
    account: Any = None
    client_order_id: str | None = None
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    updated: int = 0
    # Funds still reserved for this order, in the asset it spends (quote for BUY, base for SELL).
    locked: Decimal = ZERO
    fee_paid: Decimal = ZERO
    # What MEXC reports as a MARKET order's price: the book price when it was placed.
    reference_price: Decimal | None = None
    # The exchange's own clock (epoch seconds, sub-ms) when it accepted the order: what a sniper is
    # measured by, as `created` is whole milliseconds.
    accepted_at: float = 0.0

    @property
    def remaining(self) -> Decimal:
        return (self.quantity or ZERO) - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Fill:
    maker: Order
    taker: Order
    price: Decimal
    qty: Decimal
    time: int

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass
class OrderBook:
    levels: dict[str, dict[Decimal, deque[Order]]] = field(default_factory=lambda: {BUY: {}, SELL: {}})
    totals: dict[str, dict[Decimal, Decimal]] = field(default_factory=lambda: {BUY: {}, SELL: {}})
    # Ascending on both sides: the best bid is the last element, the best ask the first.
    prices: dict[str, list[Decimal]] = field(default_factory=lambda: {BUY: [], SELL: []})
    version: int = 1
    # Levels touched since the WebSocket publisher last looked; it drains this set.
    changed: dict[str, set[Decimal]] = field(default_factory=lambda: {BUY: set(), SELL: set()})
    last_order_time: int = 0

    def best(self, side: str) -> Decimal | None:
        prices = self.prices[side]
        if not prices:
            return None
        return prices[-1] if side == BUY else prices[0]

    def level_qty(self, side: str, price: Decimal) -> Decimal:
        return self.totals[side].get(price, ZERO)

    def depth(self, side: str, limit: int) -> list[tuple[Decimal, Decimal]]:
        return [(p, self.totals[side][p]) for p in self._walk(side, limit)]

    def _walk(self, side: str, limit: int | None = None) -> Iterator[Decimal]:
        prices = self.prices[side]
        ordered = reversed(prices) if side == BUY else iter(prices)
        for index, price in enumerate(ordered):
            if limit is not None and index >= limit:
                return
            yield price

    def touch(self, side: str, price: Decimal) -> None:
        self.version += 1
        self.changed[side].add(price)

    def add(self, order: Order) -> None:
        assert order.price is not None
        side, price = order.side, order.price
        level = self.levels[side].get(price)
        if level is None:
            level = self.levels[side][price] = deque()
            bisect.insort(self.prices[side], price)
            self.totals[side][price] = ZERO
        level.append(order)
        self.totals[side][price] += order.remaining
        self.last_order_time = max(self.last_order_time, order.created)
        self.touch(side, price)

    def remove(self, order: Order) -> None:
        assert order.price is not None
        side, price = order.side, order.price
        level = self.levels[side].get(price)
        if level is None or order not in level:
            return
        level.remove(order)
        self.totals[side][price] -= order.remaining
        if not level:
            self._drop_level(side, price)
        self.touch(side, price)

    def _drop_level(self, side: str, price: Decimal) -> None:
        del self.levels[side][price]
        del self.totals[side][price]
        prices = self.prices[side]
        del prices[bisect.bisect_left(prices, price)]

    def available(self, taker_side: str, limit: Decimal | None) -> Decimal:
        """Quantity a taker could fill at acceptable prices (for FILL_OR_KILL)."""
        side = opposite(taker_side)
        total = ZERO
        for price in self._walk(side):
            if limit is not None and not crosses(taker_side, price, limit):
                break
            total += self.totals[side][price]
        return total

    def cost_of(self, taker_side: str, qty: Decimal) -> Decimal | None:
        """Quote needed to take ``qty`` from the book now; None when the book is too thin."""
        side, left, cost = opposite(taker_side), qty, ZERO
        for price in self._walk(side):
            take = min(left, self.totals[side][price])
            cost += take * price
            left -= take
            if left <= 0:
                return cost
        return None

    def match(self, taker: Order, *, limit: Decimal | None, qty_step: Decimal, now: int) -> list[Fill]:
        """Fill ``taker`` against the opposite side, best price first, oldest order first within a price."""
        fills: list[Fill] = []
        side = opposite(taker.side)
        while True:
            best = self.best(side)
            if best is None or (limit is not None and not crosses(taker.side, best, limit)):
                return fills
            maker = self.levels[side][best][0]
            qty = min(maker.remaining, taker_capacity(taker, best, qty_step))
            if qty <= 0:
                return fills
            fills.append(self._execute(maker, taker, best, qty, now))

    def _execute(self, maker: Order, taker: Order, price: Decimal, qty: Decimal, now: int) -> Fill:
        for order in (maker, taker):
            order.executed += qty
            order.cum_quote += qty * price
            order.updated = now
        self.totals[maker.side][price] -= qty
        if maker.remaining <= 0:
            self.levels[maker.side][price].popleft()
            maker.status = "FILLED"
            if not self.levels[maker.side][price]:
                self._drop_level(maker.side, price)
        else:
            maker.status = "PARTIALLY_FILLED"
        self.touch(maker.side, price)
        return Fill(maker=maker, taker=taker, price=price, qty=qty, time=now)


def crosses(taker_side: str, book_price: Decimal, limit: Decimal) -> bool:
    return book_price <= limit if taker_side == BUY else book_price >= limit


def taker_capacity(taker: Order, price: Decimal, qty_step: Decimal) -> Decimal:
    if taker.quantity is not None:
        return taker.remaining
    assert taker.quote_qty is not None
    # A buy by quote amount spends what is left of it, in whole quantity steps.
    left = (taker.quote_qty - taker.cum_quote) / price
    return left.quantize(qty_step, rounding=ROUND_DOWN) if left > 0 else ZERO
