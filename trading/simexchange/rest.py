"""The /api/v3 REST surface: one table of routes, one dispatcher applying limits, faults and auth."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from trading.simexchange import auth, errors, formats
from trading.simexchange.accounts import Account, ApiKey
from trading.simexchange.candles import REST_INTERVALS
from trading.simexchange.errors import ApiError
from trading.simexchange.market import DAY, SymbolState
from trading.simexchange.matching import BUY, SELL
from trading.simexchange.ratelimit import RateLimitError
from trading.simexchange.rules import parse_order, required
from trading.simexchange.scenarios import Fault, server_error_body

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

WRITE, READ, ACCOUNT = "SPOT_DEAL_WRITE", "SPOT_DEAL_READ", "SPOT_ACCOUNT_READ"


@dataclass
class Call:
    sim: SimExchange
    params: dict[str, str]
    now: int
    key: ApiKey | None = None

    @property
    def account(self) -> Account:
        assert self.key is not None
        return self.key.account

    def symbol(self) -> SymbolState:
        return self.sim.engine.symbol(required(self.params, "symbol"), self.now)

    def int_param(self, name: str, default: int, maximum: int | None = None) -> int:
        raw = self.params.get(name)
        try:
            value = int(raw) if raw else default
        except ValueError as exc:
            raise errors.param_error(name) from exc
        return min(value, maximum) if maximum is not None else value

    def optional_int(self, name: str) -> int | None:
        raw = self.params.get(name)
        return self.int_param(name, 0) if raw else None


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    weight: Callable[[dict[str, str]], int]
    permission: str | None = None
    ip_weight: int = 0


def w(weight: int, without_symbol: int | None = None) -> Callable[[dict[str, str]], int]:
    if without_symbol is None:
        return lambda params: weight
    return lambda params: weight if params.get("symbol") else without_symbol


# --- public market data ----------------------------------------------------------------------
def ping(call: Call) -> Any:
    return {}


def server_time(call: Call) -> Any:
    return {"serverTime": call.now}


def default_symbols(call: Call) -> Any:
    names = [s.name for s in call.sim.market.symbols.values() if s.api_tradable]
    return {"data": names, "code": 0, "msg": "success", "timestamp": call.now}


def exchange_info(call: Call) -> Any:
    market = call.sim.market
    wanted = call.params.get("symbols") or call.params.get("symbol")
    if wanted:
        states = [market.get(name.strip().upper()) for name in wanted.split(",")]
        if any(s is None for s in states):
            raise errors.invalid_symbol()
        specs = [s.spec for s in states if s is not None]
    else:
        specs = [s.spec for s in market.symbols.values()]
    return {
        "timezone": market.timezone,
        "serverTime": call.now,
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": specs,
    }


def depth(call: Call) -> Any:
    sym = call.symbol()
    limit = call.int_param("limit", 100, 5000)
    book = sym.book
    # Stamp an empty change so the next aggre.depth push always covers this snapshot's version.
    book.version += 1
    return {
        "lastUpdateId": book.version,
        "bids": [[formats.num(p), formats.num(q)] for p, q in book.depth(BUY, limit)],
        "asks": [[formats.num(p), formats.num(q)] for p, q in book.depth(SELL, limit)],
        "timestamp": call.now,
    }


def trades(call: Call) -> Any:
    sym = call.symbol()
    limit = call.int_param("limit", 500, 1000)
    return [formats.trade_json(t) for t in list(sym.trades)[-limit:]]


def agg_trades(call: Call) -> Any:
    sym = call.symbol()
    limit = call.int_param("limit", 500, 1000)
    start, end = call.optional_int("startTime"), call.optional_int("endTime")
    if (start is None) != (end is None):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    rows = list(sym.trades)
    if start is not None and end is not None:
        rows = [t for t in rows if start <= t.time <= end]
    return [formats.agg_trade_json(t) for t in rows[-limit:]]


def klines(call: Call) -> Any:
    sym = call.symbol()
    interval = REST_INTERVALS.get(required(call.params, "interval"))
    if interval is None:
        raise errors.param_error("interval")
    limit = call.int_param("limit", 500, 1000)
    assert sym.candles is not None
    sym.candles.current(interval, call.now, sym.last_price)
    rows = sym.candles.candles(interval, call.optional_int("startTime"), call.optional_int("endTime"), limit)
    return [formats.kline_row(c) for c in rows]


def avg_price(call: Call) -> Any:
    sym = call.symbol()
    return {"mins": 5, "price": formats.num(sym.avg_price(call.now))}


def each_or_one(call: Call, render: Callable[[SymbolState], Any]) -> Any:
    if call.params.get("symbol"):
        return render(call.symbol())
    return [render(s) for s in call.sim.market.symbols.values()]


def ticker_24hr(call: Call) -> Any:
    return each_or_one(call, lambda s: formats.ticker_24h(s, call.now))


def ticker_price(call: Call) -> Any:
    return each_or_one(call, lambda s: {"symbol": s.name, "price": formats.num(s.last_price)})


def book_ticker(call: Call) -> Any:
    return each_or_one(call, formats.book_ticker)


# --- signed: orders ----------------------------------------------------------------------------
def new_order(call: Call) -> Any:
    order = call.sim.engine.place(call.account, parse_order(call.params), call.now)
    return formats.placed_json(order)


def test_order(call: Call) -> Any:
    call.sim.engine.place(call.account, parse_order(call.params), call.now, dry_run=True)
    return {}


def cancel_order(call: Call) -> Any:
    params = call.params
    client_id = params.get("origClientOrderId") or None
    order = call.sim.engine.cancel(
        call.account, required(params, "symbol"), params.get("orderId"), client_id, call.now
    )
    return formats.cancel_json(order, client_id)


def cancel_open_orders(call: Call) -> Any:
    names = [n.strip().upper() for n in required(call.params, "symbol").split(",")]
    if len(names) > 5:
        raise errors.param_error("at most 5 symbols")
    cancelled = []
    for name in names:
        call.sim.engine.symbol(name, call.now)
        for order in call.account.open_orders(name):
            call.sim.engine.cancel(call.account, name, order.order_id, None, call.now)
            cancelled.append({**formats.cancel_json(order, None), "orderListId": -1})
    return cancelled


def query_order(call: Call) -> Any:
    sym = call.symbol()
    order_id, client_id = call.params.get("orderId"), call.params.get("origClientOrderId")
    if not order_id and not client_id:
        raise errors.missing_order_ref()
    order = call.account.find_order(sym.name, order_id, client_id)
    if order is None:
        raise errors.unknown_order_query()
    return formats.order_json(order)


def open_orders(call: Call) -> Any:
    sym = call.symbol()
    return [formats.order_json(o) for o in call.account.open_orders(sym.name)]


def all_orders(call: Call) -> Any:
    sym = call.symbol()
    end = call.optional_int("endTime") or call.now
    start = call.optional_int("startTime") or end - DAY
    start = max(start, end - 7 * DAY)
    limit = call.int_param("limit", 500, 1000)
    rows = [o for o in call.account.orders.values() if o.symbol == sym.name and start <= o.created <= end]
    return [formats.order_json(o) for o in rows[-limit:]]


def account_info(call: Call) -> Any:
    return formats.account_json(call.account, call.now)


def my_trades(call: Call) -> Any:
    sym = call.symbol()
    order_id = call.params.get("orderId")
    end = call.optional_int("endTime") or call.now
    start = max(call.optional_int("startTime") or 0, end - 30 * DAY)
    limit = call.int_param("limit", 100, 100)
    rows = [
        t
        for t in call.account.trades
        if t.symbol == sym.name and start <= t.time <= end and order_id in (None, t.order.order_id)
    ]
    return [formats.my_trade_json(t) for t in rows[-limit:]]


def trade_fee(call: Call) -> Any:
    sym = call.symbol()
    rates = {k: float(sym.spec[k]) for k in ("makerCommission", "takerCommission")}
    return {"data": rates, "code": 0, "msg": "success", "timestamp": call.now}


# --- signed: user data stream --------------------------------------------------------------------
def listen_key_create(call: Call) -> Any:
    return {"listenKey": call.sim.registry.new_listen_key(call.account, call.now)}


def listen_key_list(call: Call) -> Any:
    return {"listenKey": call.sim.registry.account_listen_keys(call.account, call.now)}


def listen_key_extend(call: Call) -> Any:
    key = required(call.params, "listenKey")
    if not call.sim.registry.extend_listen_key(key, call.account, call.now):
        raise ApiError(730002, "param invalid: listenKey")
    return {"listenKey": key}


def listen_key_delete(call: Call) -> Any:
    key = required(call.params, "listenKey")
    if call.sim.registry.listen_key_account(key, call.now) is not call.account:
        raise ApiError(730002, "param invalid: listenKey")
    del call.sim.registry.listen_keys[key]
    call.sim.hub.drop_listen_key(key)
    return {"listenKey": key}


ROUTES = [
    Route("GET", "ping", ping, w(1)),
    Route("GET", "time", server_time, w(1)),
    Route("GET", "defaultSymbols", default_symbols, w(1)),
    Route("GET", "exchangeInfo", exchange_info, w(10)),
    Route("GET", "depth", depth, w(1)),
    Route("GET", "trades", trades, w(5)),
    Route("GET", "aggTrades", agg_trades, w(1)),
    Route("GET", "klines", klines, w(1)),
    Route("GET", "avgPrice", avg_price, w(1)),
    Route("GET", "ticker/24hr", ticker_24hr, w(1, 40)),
    Route("GET", "ticker/price", ticker_price, w(1, 2)),
    Route("GET", "ticker/bookTicker", book_ticker, w(1)),
    Route("POST", "order", new_order, w(1), WRITE, ip_weight=1),
    Route("POST", "order/test", test_order, w(1), WRITE),
    Route("DELETE", "order", cancel_order, w(1), WRITE),
    Route("DELETE", "openOrders", cancel_open_orders, w(1), WRITE),
    Route("GET", "order", query_order, w(2), READ),
    Route("GET", "openOrders", open_orders, w(3), READ),
    Route("GET", "allOrders", all_orders, w(10), READ),
    Route("GET", "account", account_info, w(10), ACCOUNT),
    Route("GET", "myTrades", my_trades, w(10), READ),
    Route("GET", "tradeFee", trade_fee, w(20), ACCOUNT),
    Route("POST", "userDataStream", listen_key_create, w(1), ACCOUNT),
    Route("GET", "userDataStream", listen_key_list, w(1), ACCOUNT),
    Route("PUT", "userDataStream", listen_key_extend, w(1), ACCOUNT),
    Route("DELETE", "userDataStream", listen_key_delete, w(1), ACCOUNT),
]


# --- dispatch -------------------------------------------------------------------------------------
def form_pairs(raw: str) -> list[tuple[str, str]]:
    """`parse_qsl(raw, keep_blank_values=True)`, without its per-pair unquoting when there is nothing
    to unquote (no `%`, no `+`): a signed order's query is plain text, and parse_qsl's general path
    was a tenth of the exchange's time per order in a burst."""
    if "%" in raw or "+" in raw:
        return parse_qsl(raw, keep_blank_values=True)
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def request_params(raw_query: str, raw_body: str) -> dict[str, str]:
    """Body parameters overlaid by the query string: the documented rule when a name is in both."""
    params: dict[str, str] = {}
    if raw_body.lstrip().startswith("{"):
        try:
            params.update({k: str(v) for k, v in json.loads(raw_body).items()})
        except (ValueError, AttributeError) as exc:
            raise errors.param_error("body is not valid JSON") from exc
    elif raw_body:
        params.update(form_pairs(raw_body))
    params.update(form_pairs(raw_query))
    return params


@dataclass(frozen=True)
class Incoming:
    """One /api/v3 request as the dispatcher needs it, from aiohttp or from `front.Front`: the raw
    query string and body (signatures are checked on the raw text), the API key header (None when
    absent) and the peer's address (the IP rate budget)."""

    raw_query: str
    raw_body: str
    api_key: str | None
    remote: str | None


@dataclass(frozen=True)
class Answer:
    """A JSON answer: HTTP status, the JSON-able body and extra headers (Retry-After on a 429)."""

    status: int
    body: Any
    headers: dict[str, str] | None = None

    def encoded(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_answer(exc: ApiError) -> Answer:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimitError) else None
    return Answer(exc.status, exc.body(), headers)


class Dispatcher:
    def __init__(self, sim: SimExchange, route: Route) -> None:
        self.sim = sim
        self.route = route

    async def handle(self, request: web.Request) -> web.Response:
        sim = self.sim
        # The query is parsed for a fault's symbol only when a fault is queued at all.
        queued = sim.faults.queued
        fault = sim.faults.take(request.method, request.path, request.query.get("symbol")) if queued else None
        incoming = Incoming(
            request.rel_url.raw_query_string,
            await request.text(),
            request.headers.get("X-MEXC-APIKEY"),
            request.remote,
        )
        answer = self.answer(incoming, fault)
        if fault is not None and fault.move_to is not None:
            sim.set_price(*fault.move_to)
        return await self._finish(json_response(answer.body, answer.status, answer.headers), fault)

    def answer(self, incoming: Incoming, fault: Fault | None = None) -> Answer:
        """The whole of a request's work, synchronous: limits, the fault taken for it, the signature
        and the route's handler; an ApiError becomes its MEXC error answer."""
        try:
            params = request_params(incoming.raw_query, incoming.raw_body)
            self._charge(incoming, params, fault)
            if fault is not None and fault.status and not fault.after_processing:
                return Answer(fault.status, server_error_body(fault.status))
            if fault is not None and fault.unknown_order:
                raise ApiError(-2013, "Order does not exist.")
            call = Call(self.sim, params, self.sim.now())
            if self.route.permission is not None:
                call.key = self._verify(incoming, params, call.now)
            return Answer(200, self.route.handler(call))
        except ApiError as exc:
            return error_answer(exc)

    def _charge(self, incoming: Incoming, params: dict[str, str], fault: Fault | None) -> None:
        now = self.sim.monotonic()
        if fault is not None and fault.rate_limited:
            raise RateLimitError(429, "Too Many Requests", 429, 1)
        ip = f"ip:{incoming.remote}"
        key = self.sim.registry.keys.get(incoming.api_key or "")
        identity = f"uid:{key.account.uid}" if key is not None and self.route.permission else ip
        endpoint = f"{self.route.method} {self.route.path}"
        self.sim.limiter.charge(identity, endpoint, self.route.weight(params), now)
        if self.route.ip_weight and identity != ip:
            self.sim.limiter.charge(ip, endpoint, self.route.ip_weight, now)

    def _verify(self, incoming: Incoming, params: dict[str, str], now: int) -> ApiKey:
        assert self.route.permission is not None
        return auth.verify(
            registry=self.sim.registry,
            api_key=incoming.api_key,
            raw_query=incoming.raw_query,
            raw_body=incoming.raw_body,
            params=params,
            permission=self.route.permission,
            now=now,
        )

    @staticmethod
    async def _finish(response: web.Response, fault: Fault | None) -> web.Response:
        if fault is None:
            return response
        if fault.delay:
            # The work is done; only the answer is late, so a client that times out does not know.
            await asyncio.sleep(fault.delay)
        if fault.status and fault.after_processing:
            return json_response(server_error_body(fault.status), fault.status)
        return response


def dispatchers(sim: SimExchange) -> dict[tuple[str, str], Dispatcher]:
    """One dispatcher per route, by (method, full path): what aiohttp and `front.Front` both call."""
    return {(route.method, f"/api/v3/{route.path}"): Dispatcher(sim, route) for route in ROUTES}


def add_routes(app: web.Application, table: dict[tuple[str, str], Dispatcher]) -> None:
    for (method, path), dispatcher in table.items():
        app.router.add_route(method, path, dispatcher.handle)
