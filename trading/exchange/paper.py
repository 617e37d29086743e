"""Paper trading: the `Exchange` interface filled against a real order book, with pretend money.

Pure: it knows no database. Market data comes from any `MarketData` (the MEXC client or the exchange
server); balances, orders and fills live in a `PaperStore`, which the Django side implements over its
own tables. Fill rules:

- market orders and the crossing part of priced orders take liquidity by walking the current book
  level by level, at the taker rate; a market buy by quote amount spends that amount, as MEXC's
  quoteOrderQty does (the last level's part is not cut to the lot: see `QUOTE_FILL_DECIMALS`);
- the rest of a LIMIT order rests, its funds locked; `match()` fills resting orders at their own price
  (maker rate) once the book crosses them or a trade prints through them;
- commission is charged in the asset received (base on a buy, quote on a sell), as on MEXC spot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from trading.exchange.base import MarketData
from trading.exchange.errors import (
    AboveMaximum,
    BelowMinimum,
    InsufficientBalance,
    InvalidAmount,
    InvalidParameter,
    MarketOrdersDisabled,
    OrderRejected,
    SymbolNotApiTradable,
    TradingSuspended,
    UnknownOrder,
)
from trading.exchange.types import (
    Balance,
    Fill,
    Kline,
    KlineQuery,
    OrderBook,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    SymbolRules,
    SymbolStatus,
    Ticker,
    Trade,
)

ZERO = Decimal(0)
# A buy by quote amount spends the amount given (MEXC's quoteOrderQty): the base quantity bought at the
# last level is cut at this many decimals (or the lot's, if finer), not at the lot, so 25 USDT spends
# 25 USDT to within a fraction of a cent instead of up to one lot less (24.21 for 0.19 SOL).
QUOTE_FILL_DECIMALS = 8
RulesSource = Callable[[str], Awaitable[SymbolRules]]


@dataclass
class PaperOrder:
    """A paper order's mutable state, as the store keeps it."""

    symbol: str
    order_id: str
    client_order_id: str
    side: Side
    type: OrderType
    price: Decimal | None
    quantity: Decimal | None
    quote_quantity: Decimal | None
    status: OrderStatus = OrderStatus.NEW
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    time_ms: int = 0
    update_ms: int = 0

    @property
    def remaining(self) -> Decimal:
        return (self.quantity or ZERO) - self.executed

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def state(self) -> OrderState:
        return OrderState(
            symbol=self.symbol,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            side=self.side,
            type=self.type,
            status=self.status,
            price=self.price,
            orig_quantity=self.quantity,
            executed_quantity=self.executed,
            cumulative_quote_quantity=self.cum_quote,
            orig_quote_quantity=self.quote_quantity,
            time_ms=self.time_ms,
            update_time_ms=self.update_ms,
        )


@dataclass
class Ledger:
    """Balance changes of one step, per asset: (free change, locked change)."""

    changes: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    def add(self, asset: str, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        f, lk = self.changes.get(asset, (ZERO, ZERO))
        self.changes[asset] = (f + free, lk + locked)


class PaperStore(Protocol):
    async def balances(self) -> list[Balance]: ...

    async def find_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> PaperOrder | None: ...

    async def open_orders(self, symbol: str | None = None) -> list[PaperOrder]: ...

    async def fills(self, symbol: str, *, order_id: str | None = None, limit: int = 100) -> list[Fill]: ...

    async def commit(
        self, order: PaperOrder, fills: Sequence[Fill], changes: Mapping[str, tuple[Decimal, Decimal]]
    ) -> None:
        """Atomically save the order's state, add the fills and apply the balance changes. Raises
        `InsufficientBalance` (writing nothing) when a free or locked balance would go negative."""
        ...


class MemoryPaperStore:
    """A `PaperStore` in a dict: for tests, benchmarks and throwaway sessions."""

    def __init__(self, balances: Mapping[str, Decimal] | None = None) -> None:
        self._balances: dict[str, tuple[Decimal, Decimal]] = {
            a: (v, ZERO) for a, v in (balances or {}).items()
        }
        self._orders: dict[str, PaperOrder] = {}
        self._by_client: dict[str, str] = {}
        self._fills: list[Fill] = []

    async def balances(self) -> list[Balance]:
        return [Balance(a, f, lk) for a, (f, lk) in sorted(self._balances.items())]

    async def find_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> PaperOrder | None:
        key = order_id if order_id else self._by_client.get(client_order_id or "")
        order = self._orders.get(key or "")
        return replace(order) if order is not None and order.symbol == symbol else None

    async def open_orders(self, symbol: str | None = None) -> list[PaperOrder]:
        return [replace(o) for o in self._orders.values() if o.is_open and symbol in (None, o.symbol)]

    async def fills(self, symbol: str, *, order_id: str | None = None, limit: int = 100) -> list[Fill]:
        found = [f for f in self._fills if f.symbol == symbol and order_id in (None, f.order_id)]
        return found[-limit:]

    async def commit(
        self, order: PaperOrder, fills: Sequence[Fill], changes: Mapping[str, tuple[Decimal, Decimal]]
    ) -> None:
        after = {}
        for asset, (df, dl) in changes.items():
            free, locked = self._balances.get(asset, (ZERO, ZERO))
            if free + df < 0 or locked + dl < 0:
                raise InsufficientBalance(f"Not enough {asset} for this order", symbol=order.symbol)
            after[asset] = (free + df, locked + dl)
        self._balances.update(after)
        self._orders[order.order_id] = replace(order)
        self._by_client[order.client_order_id] = order.order_id
        self._fills.extend(fills)


def places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def floor_to(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


class SharedBooks:
    """Paper orders that need a symbol's book over REST while a request for it is already in flight
    wait for that answer instead of sending their own.

    Without a market feed in the process (gunicorn's workers) each paper order reads the book over REST,
    and the client-side limit of 20 requests/s per endpoint then caps paper orders at 20/s per process
    (each waiting its turn). A book is never reused once answered: an order shares only a request sent
    at most one round trip before it arrived, so orders placed one after another each read their own.
    Shared by the threads and event loops of a process (each sync request runs its own loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, int], concurrent.futures.Future[OrderBook]] = {}

    async def depth(
        self, symbol: str, depth: int, fetch: Callable[[], Awaitable[OrderBook]]
    ) -> tuple[OrderBook, bool]:
        """The book, and whether it came from another caller's request."""
        key = (symbol, depth)
        with self._lock:
            pending = self._in_flight.get(key)
            if pending is None:
                mine: concurrent.futures.Future[OrderBook] = concurrent.futures.Future()
                self._in_flight[key] = mine
        if pending is not None:
            return await asyncio.wrap_future(pending), True
        try:
            book = await fetch()
        except Exception as exc:
            mine.set_exception(exc)  # the callers waiting on it fail as this one does
            raise
        except BaseException:
            mine.cancel()
            raise
        else:
            mine.set_result(book)
            return book, False
        finally:
            with self._lock:
                del self._in_flight[key]

    def depth_blocking(
        self,
        symbol: str,
        depth: int,
        fetch: Callable[[], concurrent.futures.Future[OrderBook]],
        timeout: float,
    ) -> tuple[OrderBook, bool]:
        """`depth` for a thread without an event loop: `fetch()` starts the request elsewhere (the
        exchange hub's loop) and its future is what later callers wait on. Raises what the request
        raised, or TimeoutError after `timeout` seconds."""
        key = (symbol, depth)
        with self._lock:
            pending = self._in_flight.get(key)
            shared = pending is not None
            if pending is None:
                pending = fetch()
                self._in_flight[key] = pending
        if not shared:
            # Outside the lock: a future already done runs its callback at once, in this thread.
            pending.add_done_callback(lambda done: self._forget(key, done))
        return pending.result(timeout), shared

    def _forget(self, key: tuple[str, int], done: concurrent.futures.Future[OrderBook]) -> None:
        with self._lock:
            if self._in_flight.get(key) is done:
                del self._in_flight[key]


class PaperExchange:
    """Satisfies `trading.exchange.base.Exchange` for one paper account."""

    def __init__(
        self,
        market: MarketData,
        store: PaperStore,
        *,
        rules: RulesSource | None = None,
        clock: Callable[[], float] = time.time,
        book_depth: int = 100,
        close_market: Callable[[], Awaitable[None]] | None = None,
        books: Callable[[str, int], OrderBook | None] | None = None,
        shared: SharedBooks | None = None,
    ) -> None:
        """`books(symbol, depth)`: the current book from memory (the market feed's), or None when it
        has none; the paper engine then asks `market.depth` over REST, through `shared` when given (a
        request already in flight for the book answers this order too)."""
        self.market = market
        self._books = books
        self._shared = shared
        self.book_reads = {"memory": 0, "rest": 0, "shared": 0}
        self.store = store
        self._rules_source = rules
        self._clock = clock
        self._depth = book_depth
        self._close_market = close_market
        self._rules: dict[str, SymbolRules] = {}

    async def aclose(self) -> None:
        if self._close_market is not None:
            await self._close_market()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def rules(self, symbol: str) -> SymbolRules:
        if symbol not in self._rules:
            if self._rules_source is not None:
                self._rules[symbol] = await self._rules_source(symbol)
            else:
                found = await self.market.symbols([symbol])
                if not found:
                    raise InvalidParameter(f"Unknown symbol {symbol}", symbol=symbol)
                self._rules[symbol] = found[0]
        return self._rules[symbol]

    # ---- market data: straight from the source ---------------------------------------------------

    async def server_time(self) -> int:
        return await self.market.server_time()

    async def symbols(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        return await self.market.symbols(symbols)

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        return await self.market.tickers(symbols)

    async def ticker(self, symbol: str) -> Ticker:
        return await self.market.ticker(symbol)

    async def depth(self, symbol: str, *, limit: int = 100) -> OrderBook:
        return await self.market.depth(symbol, limit=limit)

    async def trades(self, symbol: str, *, limit: int = 500) -> list[Trade]:
        return await self.market.trades(symbol, limit=limit)

    async def klines(self, query: KlineQuery) -> list[Kline]:
        return await self.market.klines(query)

    # ---- trading ---------------------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        return await self.store.balances()

    async def place_order(self, request: OrderRequest) -> OrderState:
        existing = await self.store.find_order(request.symbol, client_order_id=request.client_order_id)
        if existing is not None:  # a retry of an order already placed: idempotent by client id
            return existing.state()
        rules = await self.rules(request.symbol)
        self.check(rules, request)
        book = await self._book(request.symbol)
        order, fills, ledger = self.placement(rules, request, book, self._now())
        await self.store.commit(order, fills, ledger.changes)
        return order.state()

    @classmethod
    def placement(
        cls,
        rules: SymbolRules,
        request: OrderRequest,
        book: OrderBook,
        now: int,
        *,
        cancel_rest: bool = False,
    ) -> tuple[PaperOrder, list[Fill], Ledger]:
        """What placing `request` against `book` at `now` (ms) does, computed and not yet stored: the
        order as it stands afterwards, its taker fills and the balance changes. Pure, so a synchronous
        caller (trading/services/orders.py) stores it in its own transaction; the request must have
        passed the rules already (`check`). Raises the exchange's refusals (OrderRejected,
        BelowMinimum, AboveMaximum) for what only the book decides. `cancel_rest`: what did not fill
        at once is cancelled right after the acceptance (an emulated immediate-or-cancel), so the
        order is stored already CANCELED or PARTIALLY_CANCELED, nothing left locked."""
        order = PaperOrder(
            symbol=request.symbol,
            order_id=f"PAPER-{uuid.uuid4().hex[:20]}",
            client_order_id=request.client_order_id,
            side=request.side,
            type=request.type,
            price=request.price,
            quantity=request.quantity,
            quote_quantity=request.quote_quantity,
            time_ms=now,
            update_ms=now,
        )
        ledger = Ledger()
        fills = cls._take(rules, order, book, ledger, now)
        cls._finish_placement(rules, order, ledger)
        if cancel_rest and order.is_open:
            cls._cancelled(rules, order, ledger, now)
        return order, fills, ledger

    async def _book(self, symbol: str) -> OrderBook:
        book = self._books(symbol, self._depth) if self._books is not None else None
        if book is not None:
            self.book_reads["memory"] += 1
            return book
        if self._shared is None:
            self.book_reads["rest"] += 1
            return await self.market.depth(symbol, limit=self._depth)
        book, shared = await self._shared.depth(
            symbol, self._depth, lambda: self.market.depth(symbol, limit=self._depth)
        )
        self.book_reads["shared" if shared else "rest"] += 1
        return book

    @classmethod
    def check(cls, rules: SymbolRules, req: OrderRequest) -> None:
        """The exchange's refusals of `req` before any book is read: the symbol open to this side and
        order type through the API, the amounts' decimals, minimums and maximums."""
        cls._check_open(rules, req)
        cls._check_amounts(rules, req)

    @staticmethod
    def _check_open(rules: SymbolRules, req: OrderRequest) -> None:
        """The symbol trades now, through the API, in this side and order type."""
        sym = req.symbol
        if rules.status != SymbolStatus.ONLINE or not rules.allows_side(req.side):
            raise TradingSuspended(symbol=sym)
        if not rules.api_tradable or not rules.spot_trading_allowed:
            raise SymbolNotApiTradable(symbol=sym)
        if req.type not in rules.order_types:
            if req.type == OrderType.MARKET:
                raise MarketOrdersDisabled(symbol=sym)
            raise OrderRejected(f"{req.type} orders are not accepted on {sym}", symbol=sym)

    @staticmethod
    def _check_amounts(rules: SymbolRules, req: OrderRequest) -> None:
        """Precision, minimums and maximums of the amounts."""
        sym = req.symbol
        for amount, decimals in (
            (req.quantity, rules.quantity_decimals),
            (req.price, rules.price_decimals),
            (req.quote_quantity, rules.price_decimals),
        ):
            if amount is not None and places(amount) > decimals:
                raise InvalidAmount(symbol=sym)
        if req.quantity is not None and req.quantity < rules.min_quantity:
            raise BelowMinimum(symbol=sym, raw_message=f"minimum quantity {rules.min_quantity}")
        if req.price is not None and req.quantity is not None:
            notional = req.price * req.quantity
            if notional < rules.min_notional:
                raise BelowMinimum(symbol=sym, raw_message=f"minimum order value {rules.min_notional}")
            if rules.max_notional is not None and notional > rules.max_notional:
                raise AboveMaximum(symbol=sym)
        if req.quote_quantity is not None:
            if req.quote_quantity < rules.min_notional_market:
                raise BelowMinimum(symbol=sym, raw_message=f"minimum order value {rules.min_notional_market}")
            if rules.max_notional_market is not None and req.quote_quantity > rules.max_notional_market:
                raise AboveMaximum(symbol=sym)

    @classmethod
    def _take(
        cls, rules: SymbolRules, order: PaperOrder, book: OrderBook, ledger: Ledger, now: int
    ) -> list[Fill]:
        """Fill what crosses the book now, as taker."""
        levels = book.asks if order.side == Side.BUY else book.bids
        if order.price is not None:
            limit = order.price
            levels = tuple(
                lv for lv in levels if (lv.price <= limit if order.side == Side.BUY else lv.price >= limit)
            )
        if order.type == OrderType.LIMIT_MAKER and levels:
            raise OrderRejected("A post-only order would have taken liquidity", symbol=order.symbol)
        if order.type == OrderType.FILL_OR_KILL and sum((lv.quantity for lv in levels), ZERO) < (
            order.quantity or ZERO
        ):
            return []
        fills: list[Fill] = []
        spend_left = order.quote_quantity
        for level in levels:
            if spend_left is not None:
                decimals = max(rules.quantity_decimals, QUOTE_FILL_DECIMALS)
                qty = min(level.quantity, floor_to(spend_left / level.price, decimals))
            else:
                qty = min(level.quantity, order.remaining)
            if qty <= 0:
                break
            fills.append(cls._fill(rules, order, level.price, qty, is_maker=False, ledger=ledger, now=now))
            if spend_left is not None:
                spend_left -= level.price * qty
            elif order.remaining <= 0:
                break
        if order.type == OrderType.MARKET:
            cls._check_market_value(rules, order, fills)
        return fills

    @staticmethod
    def _check_market_value(rules: SymbolRules, order: PaperOrder, fills: list[Fill]) -> None:
        if not fills:
            raise OrderRejected("No liquidity in the order book for this market order", symbol=order.symbol)
        if order.quote_quantity is None and order.cum_quote < rules.min_notional_market:
            raise BelowMinimum(
                symbol=order.symbol, raw_message=f"minimum order value {rules.min_notional_market}"
            )
        if (
            order.quote_quantity is None
            and rules.max_notional_market
            and order.cum_quote > rules.max_notional_market
        ):
            raise AboveMaximum(symbol=order.symbol)

    @staticmethod
    def _fill(
        rules: SymbolRules,
        order: PaperOrder,
        price: Decimal,
        qty: Decimal,
        *,
        is_maker: bool,
        ledger: Ledger,
        now: int,
    ) -> Fill:
        rate = rules.maker_commission if is_maker else rules.taker_commission
        quote = price * qty
        if order.side == Side.BUY:
            paid, paid_asset, got, got_asset = quote, rules.quote_asset, qty, rules.base_asset
        else:
            paid, paid_asset, got, got_asset = qty, rules.base_asset, quote, rules.quote_asset
        # A resting order pays from its lock (a buy at its own price); a taker pays from free funds.
        # The commission comes out of what the fill brings in.
        commission = got * rate
        if is_maker:
            ledger.add(paid_asset, locked=-paid)
        else:
            ledger.add(paid_asset, free=-paid)
        ledger.add(got_asset, free=got - commission)
        order.executed += qty
        order.cum_quote += quote
        order.update_ms = now
        return Fill(
            symbol=order.symbol,
            trade_id=f"{order.order_id}-{uuid.uuid4().hex[:8]}",
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=order.side,
            price=price,
            quantity=qty,
            quote_quantity=quote,
            commission=commission,
            commission_asset=got_asset,
            is_maker=is_maker,
            time_ms=now,
        )

    @classmethod
    def _finish_placement(cls, rules: SymbolRules, order: PaperOrder, ledger: Ledger) -> None:
        rests = order.type in (OrderType.LIMIT, OrderType.LIMIT_MAKER)
        if order.type != OrderType.MARKET and order.remaining > 0 and rests:
            order.status = OrderStatus.PARTIALLY_FILLED if order.executed else OrderStatus.NEW
            cls._lock(rules, order, ledger, sign=Decimal(1))
            return
        by_quote = order.type == OrderType.MARKET and order.quote_quantity is not None
        complete = by_quote or order.remaining <= 0
        if complete:
            order.status = OrderStatus.FILLED
        else:
            order.status = OrderStatus.PARTIALLY_CANCELED if order.executed else OrderStatus.CANCELED

    @staticmethod
    def _lock(rules: SymbolRules, order: PaperOrder, ledger: Ledger, *, sign: Decimal) -> None:
        """Move the funds a resting order still needs from free to locked (sign=1) or back (sign=-1)."""
        if order.side == Side.BUY:
            amount = (order.price or ZERO) * order.remaining * sign
            ledger.add(rules.quote_asset, free=-amount, locked=amount)
        else:
            amount = order.remaining * sign
            ledger.add(rules.base_asset, free=-amount, locked=amount)

    async def match(
        self, symbol: str, *, book: OrderBook | None = None, trades: Sequence[Trade] = ()
    ) -> list[OrderState]:
        """Fill this account's resting orders on `symbol` that the market has crossed: the book's
        opposite side at or through their price, or a trade printed strictly through it. Returns the
        orders that changed. Call it from the market feed or a periodic task."""
        resting = sorted(await self.store.open_orders(symbol), key=lambda o: o.time_ms)
        if not resting:
            return []
        if book is None:
            book = await self._book(symbol)
        rules = await self.rules(symbol)
        asks = {lv.price: lv.quantity for lv in book.asks}
        bids = {lv.price: lv.quantity for lv in book.bids}
        changed = []
        now = self._now()
        for order in resting:
            available = self._crossing(order, asks, bids, trades)
            qty = min(order.remaining, available)
            if qty <= 0 or order.price is None:
                continue
            ledger = Ledger()
            fill = self._fill(rules, order, order.price, qty, is_maker=True, ledger=ledger, now=now)
            order.status = OrderStatus.FILLED if order.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
            await self.store.commit(order, [fill], ledger.changes)
            changed.append(order.state())
        return changed

    @staticmethod
    def _crossing(
        order: PaperOrder, asks: dict[Decimal, Decimal], bids: dict[Decimal, Decimal], trades: Sequence[Trade]
    ) -> Decimal:
        """Quantity available to `order` now, taken out of the shared book copy so that two orders
        of one account never fill against the same liquidity."""
        price = order.price or ZERO
        side = asks if order.side == Side.BUY else bids
        levels = sorted(p for p in side if (p <= price if order.side == Side.BUY else p >= price))
        if order.side == Side.SELL:
            levels.reverse()
        wanted, got = order.remaining, ZERO
        for level in levels:
            take = min(side[level], wanted - got)
            side[level] -= take
            got += take
            if got >= wanted:
                return got
        through = sum(
            (t.quantity for t in trades if (t.price < price if order.side == Side.BUY else t.price > price)),
            ZERO,
        )
        return got + through

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        order = await self._find(symbol, order_id, client_order_id)
        if not order.is_open:
            raise UnknownOrder(symbol=symbol, raw_message="order is not open")
        rules = await self.rules(symbol)
        ledger = Ledger()
        self._cancelled(rules, order, ledger, self._now())
        await self.store.commit(order, [], ledger.changes)
        return order.state()

    @classmethod
    def _cancelled(cls, rules: SymbolRules, order: PaperOrder, ledger: Ledger, now: int) -> None:
        """Cancel an open order's rest: its funds unlocked, its fills kept."""
        cls._lock(rules, order, ledger, sign=Decimal(-1))
        order.status = OrderStatus.PARTIALLY_CANCELED if order.executed else OrderStatus.CANCELED
        order.update_ms = now

    async def cancel_all(self, symbol: str) -> list[OrderState]:
        return [
            await self.cancel_order(symbol, order_id=o.order_id) for o in await self.store.open_orders(symbol)
        ]

    async def _find(self, symbol: str, order_id: str | None, client_order_id: str | None) -> PaperOrder:
        if not order_id and not client_order_id:
            raise InvalidParameter("Give an order id or a client order id")
        order = await self.store.find_order(symbol, order_id=order_id, client_order_id=client_order_id)
        if order is None:
            raise UnknownOrder(symbol=symbol)
        return order

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        return (await self._find(symbol, order_id, client_order_id)).state()

    async def open_orders(self, symbol: str) -> list[OrderState]:
        return [o.state() for o in await self.store.open_orders(symbol)]

    async def my_trades(self, symbol: str, *, order_id: str | None = None) -> list[Fill]:
        return await self.store.fills(symbol, order_id=order_id, limit=100)
