"""The simulated exchange: state, background loops, the aiohttp application and scenario methods.

Every method here must run on the server's event loop; ``testing.SimExchangeThread`` wraps them for
callers on other threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from trading.simexchange import calendar, control, front, rest
from trading.simexchange.accounts import ALL_PERMISSIONS, DEMO_BALANCES, Account, Registry
from trading.simexchange.config import SimConfig
from trading.simexchange.engine import Engine
from trading.simexchange.market import Market, SymbolState
from trading.simexchange.publisher import Publisher
from trading.simexchange.ratelimit import RateLimiter
from trading.simexchange.scenarios import Fault, Faults
from trading.simexchange.ws import Hub

# The tick loop's full collection, every this many ticks (a minute at the default 0.25 s tick).
FULL_COLLECTION_TICKS = 240


class SimExchange:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        self.market = Market(
            seed=config.seed, always_active=config.always_active, price_band=config.price_band_filter
        )
        self.registry = Registry()
        self.account: Account = self.registry.add_account(
            api_key=config.api_key, api_secret=config.api_secret, balances=dict(DEMO_BALANCES)
        )
        self.engine = Engine(
            self.market,
            self.registry,
            liquidity_levels=config.liquidity_levels,
            taker_rate=config.taker_orders_per_second,
        )
        self.limiter = RateLimiter(
            budget=config.rate_limit_weight,
            window=config.rate_limit_window,
            strikes=config.rate_limit_strikes,
            ban_seconds=config.rate_limit_ban_seconds,
        )
        self.faults = Faults()
        self.hub = Hub(self)
        self.engine.sink = self.hub.on_event
        self.publisher = Publisher(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._fronts: set[front.Front] = set()
        self.routes = rest.dispatchers(self)
        self.port = 0
        # Set by `settle_heap` in the exchange's own process: automatic garbage collection is off and
        # the tick loop collects between symbols instead (see there).
        self.collects_garbage = False

    # --- clock -------------------------------------------------------------------------------
    @staticmethod
    def now() -> int:
        return int(time.time() * 1000)

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    # --- lifecycle -----------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application()
        rest.add_routes(app, self.routes)
        control.add_routes(app, self)
        calendar.add_routes(app, self)
        app.router.add_get("/ws", self.hub.handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        now = self.now()
        for name in self.config.always_active:
            sym = self.market.get(name)
            if sym is not None:
                self.engine.activate(sym, now)
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        # The /api/v3 calls are read by `front.Front`; everything else goes on to aiohttp's handler.
        aiohttp_protocol = self._runner.server
        assert aiohttp_protocol is not None
        writes = front.Writes()
        self._server = await asyncio.get_running_loop().create_server(
            lambda: front.Front(self, self.routes, aiohttp_protocol, writes, self._fronts), host, port
        )
        sockets = self._server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else port
        config = self.config
        self._tasks = [
            asyncio.create_task(self._tick_loop()),
            asyncio.create_task(self.publisher.run(config.push_seconds, "books")),
            asyncio.create_task(self.publisher.run(config.kline_push_seconds, "klines")),
            asyncio.create_task(self.publisher.run(config.mini_ticker_push_seconds, "minis")),
        ]
        return self.port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.hub.disconnect_all()
        if self._server is not None:
            self._server.close()
            for connection in list(self._fronts):
                connection.close()
            await self._server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _tick_loop(self) -> None:
        tick = self.config.tick_seconds
        ticks = 0
        while True:
            await asyncio.sleep(tick)
            self.engine.open_due_listings(self.now())
            for sym in self.market.active():
                # One symbol at a time, requests answered in between: a tick of every active symbol
                # at once held the loop for tens of ms (26 symbols), and an order arriving meanwhile
                # was accepted that much later; MEXC's market makers do not stop its matching engine.
                await asyncio.sleep(0)
                self.engine.step(sym, self.now(), tick)
            ticks += 1
            if self.collects_garbage:
                await asyncio.sleep(0)
                gc.collect(2 if ticks % FULL_COLLECTION_TICKS == 0 else 1)

    def _open_on_time(self, sym: SymbolState) -> None:
        """Opens a listing at its open time (the tick loop would open it up to a tick later, and the
        first order after the open built its book while every order behind it waited)."""
        if sym.opens_at is None:
            return
        left = sym.opens_at - self.now()
        if left > 0:
            # Timers can fire early by a fraction of a millisecond: asked again until it is time.
            asyncio.get_running_loop().call_later(left / 1000, self._open_on_time, sym)
        else:
            self.engine.open_due_listings(self.now())

    # --- scenarios: market -----------------------------------------------------------------------
    def add_listing(
        self,
        symbol: str,
        *,
        opens_at: int,
        price: Decimal,
        quote_asset: str = "USDT",
        api_market_orders: bool = True,
    ) -> SymbolState:
        """A new symbol, listed but closed (status "2", not API-tradable: orders get 10007) until
        ``opens_at`` (ms), then open at ``price``."""
        quote_asset = quote_asset.upper()
        base = symbol.upper().removesuffix(quote_asset)
        places = max(0, 4 - math.floor(math.log10(price)))
        spec = listing_spec(symbol.upper(), base, quote_asset, places)
        sym = self.market.add_listing(spec, opens_at=opens_at, price=price)
        sym.api_market_disabled = not api_market_orders
        # The opening book's level sizes, worked out now: the first order after the open builds the
        # book (Engine.activate) and every order behind it waits for that.
        sym.liquidity_targets(self.config.liquidity_levels)
        with contextlib.suppress(RuntimeError):  # no running loop: the tick loop or an order opens it
            asyncio.get_running_loop().call_soon(self._open_on_time, sym)
        return sym

    def open_listing(self, symbol: str) -> None:
        sym = self._symbol(symbol)
        sym.opens_at = self.now()
        self.engine.open_due_listings(sym.opens_at)

    def set_api_market_orders(self, symbol: str, *, enabled: bool) -> None:
        """``enabled=False`` makes MARKET orders on ``symbol`` fail with 30051."""
        self._symbol(symbol).api_market_disabled = not enabled

    def set_api_tradable(self, symbol: str, *, enabled: bool) -> None:
        self._symbol(symbol).spec["isSpotTradingAllowed"] = enabled

    def set_symbol_status(self, symbol: str, status: str | None) -> None:
        """exchangeInfo reports ``status`` for ``symbol`` as given, also values MEXC never documented
        ("4", None, "")."""
        self._symbol(symbol).spec["status"] = status

    def set_order_types(self, symbol: str, order_types: list[str]) -> None:
        """The order types ``symbol`` lists in exchangeInfo and takes; others are refused (30041).
        Real MEXC symbols list LIMIT, MARKET and LIMIT_MAKER; this makes one that takes IOC or FOK."""
        self._symbol(symbol).spec["orderTypes"] = list(order_types)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Moves the walk to ``price`` now; resting orders the new quotes cross are filled."""
        sym = self._symbol(symbol)
        sym.move_to(price)
        self.engine.activate(sym, self.now())
        self.engine.tick_symbol(sym, self.now())

    def _symbol(self, symbol: str) -> SymbolState:
        sym = self.market.get(symbol.upper())
        if sym is None:
            raise KeyError(symbol)
        return sym

    # --- scenarios: accounts ---------------------------------------------------------------------
    def set_balance(self, asset: str, free: Decimal, account: Account | None = None) -> None:
        (account or self.account).balance(asset.upper()).free = free

    def add_api_key(
        self, api_key: str, api_secret: str, permissions: frozenset[str] = ALL_PERMISSIONS
    ) -> None:
        """Another key on the demo account, e.g. a read-only one to provoke 700007."""
        self.registry.add_key(
            account=self.account, api_key=api_key, api_secret=api_secret, permissions=permissions
        )

    def add_account(self, api_key: str, api_secret: str, balances: dict[str, Decimal]) -> Account:
        """Another account with its own key (its own UID rate budget), e.g. one per simulated user."""
        return self.registry.add_account(api_key=api_key, api_secret=api_secret, balances=balances)

    def accepted_orders(self, symbol: str) -> list[dict[str, Any]]:
        """Every client order accepted on ``symbol``, with the exchange's own acceptance time (epoch ms,
        sub-millisecond) and, for a listing, its open time: what a sniper's speed is measured by."""
        sym = self._symbol(symbol)
        rows = [
            {
                "uid": account.uid,
                "clientOrderId": order.client_order_id,
                "status": order.status,
                "type": order.type,
                "executedQty": str(order.executed),
                "cummulativeQuoteQty": str(order.cum_quote),
                "acceptedAt": order.accepted_at * 1000,
                "openTime": sym.opens_at,
            }
            for account in self.registry.accounts
            for order in account.orders.values()
            if order.symbol == sym.name
        ]
        return sorted(rows, key=lambda row: row["acceptedAt"])

    # --- scenarios: transport faults ---------------------------------------------------------------
    def fail_next(
        self,
        path: str,
        *,
        status: int = 503,
        count: int = 1,
        method: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """The next ``count`` matching requests get a 5xx; ``after_processing``: done first, then 5xx."""
        self.faults.add(Fault(path, method, count, status=status, after_processing=after_processing))

    def delay_next(self, path: str, *, seconds: float, count: int = 1, method: str | None = None) -> None:
        """The next matching requests are processed at once but answered ``seconds`` later."""
        self.faults.add(Fault(path, method, count, delay=seconds))

    def rate_limit_next(self, count: int, *, path: str = "/api/v3/", method: str | None = None) -> None:
        """A burst of 429s: the next ``count`` matching requests are refused with Retry-After."""
        self.faults.add(Fault(path, method, count, rate_limited=True))

    def move_after_next_book(self, symbol: str, price: Decimal) -> None:
        """The next GET /api/v3/depth of ``symbol`` is answered with the current book, then the market
        moves to ``price``: whoever prices an order from that answer prices it from a stale book."""
        self.faults.add(Fault("/api/v3/depth", "GET", 1, move_to=(symbol, price), symbol=symbol))

    def order_invisible_next(self, count: int = 1) -> None:
        """The next ``count`` GET /api/v3/order answer -2013 "Order does not exist." even for an order
        that exists, as MEXC does for a moment right after a placement."""
        self.faults.add(Fault("/api/v3/order", "GET", count, unknown_order=True))

    async def disconnect_websockets(self, *, abrupt: bool = False) -> int:
        return await self.hub.disconnect_all(abrupt=abrupt)

    def silence_websockets(self) -> int:
        """Every open WebSocket goes silent (no frames, no PONGs, no close frame); returns how many."""
        return self.hub.silence_all()


def settle_heap(sim: SimExchange) -> None:
    """For the exchange's own process, once it has started.

    The start-up heap (the exchange-info capture and every symbol's state, about 200,000 objects)
    moves out of the garbage collector's generations: a full collection walked all of it, 110-160 ms
    on this machine, and whichever orders were in flight waited for it. And garbage is collected by
    the tick loop, between two symbols' steps (the young generations every tick, all of them every
    minute), instead of whenever 700 allocations add up: that was in the middle of a request, most
    often in a burst of orders (0.6-1 ms each time, measured at a listing's open)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    sim.collects_garbage = True


def listing_spec(symbol: str, base: str, quote: str, price_places: int) -> dict[str, Any]:
    return {
        "baseAsset": base,
        "baseAssetPrecision": 2,
        "baseCommissionPrecision": 2,
        "baseSizePrecision": "0",
        "filters": [],
        "fullName": base,
        "isMarginTradingAllowed": False,
        "isSpotTradingAllowed": False,
        "makerCommission": "0",
        "maxQuoteAmount": "2000000",
        "maxQuoteAmountMarket": "100000",
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "permissions": ["SPOT"],
        "quoteAmountPrecision": "1",
        "quoteAmountPrecisionMarket": "1",
        "quoteAsset": quote,
        "quoteAssetPrecision": price_places,
        "quoteCommissionPrecision": price_places,
        "quotePrecision": price_places,
        "st": False,
        "status": "2",
        "symbol": symbol,
        "takerCommission": "0.0005",
        "tradeSideType": 1,
    }
