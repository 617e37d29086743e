"""Order placement, cancellation, settlement of fills and the simulated market's heartbeat."""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from trading.simexchange import errors
from trading.simexchange.accounts import Account, MyTrade, Registry
from trading.simexchange.errors import ApiError
from trading.simexchange.market import Market, SymbolState, decimals_step
from trading.simexchange.matching import BUY, SELL, ZERO, Fill, Order, crosses, opposite
from trading.simexchange.rules import OrderRequest, check_open_order_cap, check_order, reference_price

# MEXC order ids look like C02__505979017439002624115: a prefix and a 21-digit sequence.
ORDER_ID_BASE = 505979017439002624000
TAKER_PROTECTION = Decimal("0.02")
# Trade ids: 32 random hex digits, as uuid4().hex gave, from a generator seeded once (uuid4 read the
# kernel's random source per fill, tens of us each on this machine).
_TRADE_IDS = random.Random(os.urandom(16))


@dataclass
class BalanceEvent:
    account: Account
    asset: str
    free_change: Decimal
    locked_change: Decimal
    reason: str
    time: int


@dataclass
class OrderEvent:
    account: Account
    order: Order
    last_deal_qty: Decimal | None
    is_maker: bool
    time: int


@dataclass
class DealEvent:
    account: Account
    trade: MyTrade


Event = BalanceEvent | OrderEvent | DealEvent


class Engine:
    def __init__(
        self, market: Market, registry: Registry, *, liquidity_levels: int, taker_rate: float = 2.0
    ) -> None:
        self.market = market
        self.registry = registry
        self.liquidity_levels = liquidity_levels
        self.taker_rate = taker_rate
        self.sink: Callable[[Event], None] = lambda event: None
        self.clock: Callable[[], float] = time.time
        self._ids = itertools.count(1)
        self._liquidity: dict[str, dict[tuple[str, Decimal], Order]] = {}

    # --- symbols -------------------------------------------------------------------------------
    def symbol(self, name: str, now: int) -> SymbolState:
        """The symbol a client asked about, activated so that it starts trading; -1121 if unknown."""
        sym = self.market.get(name.upper())
        if sym is None:
            raise errors.invalid_symbol()
        self.activate(sym, now)
        return sym

    def activate(self, sym: SymbolState, now: int) -> None:
        if sym.active or (sym.opens_at is not None and now < sym.opens_at):
            return
        self.market.activate(sym, now, backfill=sym.opens_at is None)
        self._refresh_liquidity(sym, now)

    def open_due_listings(self, now: int) -> None:
        for sym in self.market.due_listings(now):
            if sym.spec["status"] != "1":
                sym.spec["status"] = "1"
                sym.spec["isSpotTradingAllowed"] = True
                self.activate(sym, now)

    # --- orders --------------------------------------------------------------------------------
    def place(self, account: Account, req: OrderRequest, now: int, *, dry_run: bool = False) -> Order:
        self.open_due_listings(now)
        sym = self.market.get(req.symbol)
        if sym is None:
            raise errors.invalid_symbol()
        check_order(sym, req, now=now)
        check_open_order_cap(account)
        self.activate(sym, now)
        order = self._new_order(account, req, now)
        if order.price is None:
            order.reference_price = reference_price(sym, order.side)
        asset, amount = self._reservation(sym, order)
        if account.balance(asset).free < amount:
            raise ApiError(30004, "Insufficient position")
        if dry_run:
            return order
        order.accepted_at = self.clock()
        account.add_order(order)
        order.locked = amount
        self._move(account, asset, -amount, amount, "ENTRUST_PLACE", now)
        self.sink(OrderEvent(account, order, None, False, now))
        self._execute(sym, order, now)
        return order

    def _new_order(self, account: Account, req: OrderRequest, now: int) -> Order:
        return Order(
            order_id=f"C02__{ORDER_ID_BASE + next(self._ids)}",
            symbol=req.symbol,
            side=req.side,
            type=req.type,
            price=req.price,
            quantity=req.quantity,
            quote_qty=req.quote_qty if req.quantity is None else None,
            created=now,
            updated=now,
            account=account,
            client_order_id=req.client_order_id,
        )

    def _reservation(self, sym: SymbolState, order: Order) -> tuple[str, Decimal]:
        if order.side == SELL:
            return sym.base, order.quantity or ZERO
        if order.price is not None:
            return sym.quote, order.price * (order.quantity or ZERO)
        if order.quote_qty is not None:
            return sym.quote, order.quote_qty
        # A market buy by quantity reserves what the book would charge right now; the match is immediate.
        wanted = min(order.quantity or ZERO, sym.book.available(BUY, None))
        if wanted <= 0:
            raise ApiError(30010, "no valid trade price")
        return sym.quote, sym.book.cost_of(BUY, wanted) or ZERO

    def _execute(self, sym: SymbolState, order: Order, now: int) -> None:
        book = sym.book
        if self._killed_before_matching(sym, order):
            return self._finish(order, now)
        limit = order.price
        if order.account is None and limit is None:
            protection = TAKER_PROTECTION if order.side == BUY else -TAKER_PROTECTION
            limit = sym.last_price * (1 + protection)
        fills = book.match(order, limit=limit, qty_step=sym.qty_step, now=now)
        if fills:
            order.status = "PARTIALLY_FILLED"
        rests = order.type in ("LIMIT", "LIMIT_MAKER")
        if order.quantity is not None and order.remaining > 0 and rests:
            book.add(order)
        else:
            order.status = "FILLED" if self._complete(order) else order.status
        self._settle(sym, fills, now)
        if order.is_open and not rests:
            self._finish(order, now)
        elif not order.is_open:
            # A taker's reservation is settled fill by fill; what is left (a better price) goes back.
            self._release(order, now, "ENTRUST_UNFROZEN")

    @staticmethod
    def _killed_before_matching(sym: SymbolState, order: Order) -> bool:
        best = sym.book.best(opposite(order.side))
        if order.type == "LIMIT_MAKER":
            # A post-only order that would take liquidity is cancelled instead of matched.
            return best is not None and order.price is not None and crosses(order.side, best, order.price)
        if order.type == "FILL_OR_KILL":
            return sym.book.available(order.side, order.price) < order.remaining
        return False

    @staticmethod
    def _complete(order: Order) -> bool:
        if order.quantity is not None:
            return order.remaining <= 0
        return order.executed > 0

    def cancel(
        self, account: Account, symbol: str, order_id: str | None, client_id: str | None, now: int
    ) -> Order:
        sym = self.market.get(symbol.upper())
        if sym is None:
            raise errors.invalid_symbol()
        if not order_id and not client_id:
            raise errors.missing_order_ref()
        order = account.find_order(sym.name, order_id, client_id)
        if order is None or not order.is_open:
            raise errors.unknown_order_cancel()
        sym.book.remove(order)
        self._finish(order, now)
        return order

    def _finish(self, order: Order, now: int) -> None:
        """Ends an order that will not trade further and gives back what it still had reserved."""
        order.status = "CANCELED" if order.executed == 0 else "PARTIALLY_CANCELED"
        order.updated = now
        self._release(order, now, "ENTRUST_CANCEL")
        if order.account is not None:
            self.sink(OrderEvent(order.account, order, None, False, now))

    def _release(self, order: Order, now: int, reason: str) -> None:
        if order.account is None or order.locked <= 0:
            return
        sym = self.market.symbols[order.symbol]
        asset = sym.quote if order.side == BUY else sym.base
        amount, order.locked = order.locked, ZERO
        self._move(order.account, asset, amount, -amount, reason, now)

    def _move(
        self, account: Account, asset: str, free: Decimal, locked: Decimal, reason: str, now: int
    ) -> None:
        balance = account.balance(asset)
        balance.free += free
        balance.locked += locked
        self.sink(BalanceEvent(account, asset, free, locked, reason, now))

    # --- settlement ----------------------------------------------------------------------------
    def _settle(self, sym: SymbolState, fills: list[Fill], now: int) -> None:
        for fill in fills:
            sym.record(fill)
            self_trade = fill.maker.account is not None and fill.maker.account is fill.taker.account
            for order, is_maker in ((fill.maker, True), (fill.taker, False)):
                if order.account is not None:
                    self._settle_side(sym, order, fill, is_maker=is_maker, self_trade=self_trade)

    def _settle_side(
        self, sym: SymbolState, order: Order, fill: Fill, *, is_maker: bool, self_trade: bool
    ) -> None:
        account: Account = order.account
        rate = Decimal(sym.spec["makerCommission" if is_maker else "takerCommission"])
        buying = order.side == BUY
        spent_asset, got_asset = (sym.quote, sym.base) if buying else (sym.base, sym.quote)
        spent, got = (fill.quote, fill.qty) if buying else (fill.qty, fill.quote)
        places = int(sym.spec["baseCommissionPrecision" if buying else "quoteCommissionPrecision"])
        fee = (got * rate).quantize(decimals_step(places), rounding=ROUND_HALF_UP)
        order.locked -= spent
        order.fee_paid += fee
        self._move(account, spent_asset, ZERO, -spent, "ENTRUST", fill.time)
        self._move(account, got_asset, got - fee, ZERO, "ENTRUST", fill.time)
        trade = MyTrade(
            symbol=sym.name,
            trade_id=f"{_TRADE_IDS.getrandbits(128):032x}",
            order=order,
            price=fill.price,
            qty=fill.qty,
            commission=fee,
            commission_asset=got_asset,
            time=fill.time,
            is_buyer=buying,
            is_maker=is_maker,
            is_self_trade=self_trade,
        )
        account.trades.append(trade)
        self.sink(DealEvent(account, trade))
        if is_maker and not order.is_open:
            self._release(order, fill.time, "ENTRUST_UNFROZEN")
        self.sink(OrderEvent(account, order, fill.qty, is_maker, fill.time))

    # --- the simulated market ------------------------------------------------------------------
    def tick(self, now: int, tick_seconds: float) -> None:
        self.open_due_listings(now)
        for sym in self.market.active():
            self.step(sym, now, tick_seconds)

    def step(self, sym: SymbolState, now: int, tick_seconds: float) -> None:
        """One symbol's share of a tick: its walk, its simulated quotes and its simulated taker flow.
        The server runs the symbols of a tick one at a time, answering requests in between."""
        sym.step_walk(tick_seconds)
        self.tick_symbol(sym, now)
        flow = sym.taker_flow(tick_seconds, self.taker_rate)
        if flow is not None:
            self._simulated_order(sym, flow[0], "MARKET", None, flow[1], now)

    def tick_symbol(self, sym: SymbolState, now: int) -> None:
        self._refresh_liquidity(sym, now)

    def _refresh_liquidity(self, sym: SymbolState, now: int) -> None:
        """Moves the simulated quotes to the walk; new quotes match resting client orders they cross."""
        current = self._liquidity.setdefault(sym.name, {})
        targets = sym.liquidity_targets(self.liquidity_levels)
        for key, order in list(current.items()):
            if targets.get(key) != order.remaining or not order.is_open:
                sym.book.remove(order)
                del current[key]
        for (side, price), qty in targets.items():
            if (side, price) not in current:
                order = self._simulated_order(sym, side, "LIMIT", price, qty, now)
                if order.is_open:
                    current[(side, price)] = order

    def _simulated_order(
        self, sym: SymbolState, side: str, kind: str, price: Decimal | None, qty: Decimal, now: int
    ) -> Order:
        order = Order(
            order_id=f"S{next(self._ids)}",
            symbol=sym.name,
            side=side,
            type=kind,
            price=price,
            quantity=qty,
            quote_qty=None,
            created=now,
            updated=now,
        )
        self._execute(sym, order, now)
        return order
