"""Async REST client for MEXC spot v3 on one pooled httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from config import metrics
from trading.exchange import parsing
from trading.exchange.errors import (
    ExchangeError,
    ExchangeUnavailable,
    InvalidParameter,
    IpBanned,
    OutcomeUnknown,
    RateLimited,
    TimestampOutOfWindow,
    UnknownOrder,
    error_for,
)
from trading.exchange.ratelimit import RateLimiter, Scope, weight_of
from trading.exchange.signing import Param, encode_query, format_value, signed_query
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
    SymbolRules,
    Ticker,
    Trade,
)

DEFAULT_BASE_URL = "https://api.mexc.com"
MAX_RECV_WINDOW_MS = 60_000


def order_params(request: OrderRequest) -> list[Param]:
    params: list[Param] = [
        ("symbol", request.symbol),
        ("side", request.side.value),
        ("type", request.type.value),
    ]
    if request.quantity is not None:
        params.append(("quantity", format_value(request.quantity)))
    if request.quote_quantity is not None:
        params.append(("quoteOrderQty", format_value(request.quote_quantity)))
    if request.price is not None:
        params.append(("price", format_value(request.price)))
    params.append(("newClientOrderId", request.client_order_id))
    return params


def cancel_params(symbol: str, client_order_id: str) -> list[Param]:
    """DELETE /api/v3/order's parameters for an order known by its client order id (all that is
    known of an order before the exchange has accepted it: a pre-signed cancel's)."""
    return [("symbol", symbol), ("origClientOrderId", client_order_id)]


@dataclass
class ServerClock:
    """The exchange clock's offset from ours, shared by every session of a process and refreshed in
    the background by `ExchangeHub`, so a signed call never waits for GET /api/v3/time."""

    offset_ms: int | None = None
    synced_at: float = 0.0


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def _order_ref(order_id: str | None, client_order_id: str | None) -> list[Param]:
    if order_id:
        return [("orderId", order_id)]
    if client_order_id:
        return [("origClientOrderId", client_order_id)]
    raise InvalidParameter("Give an order id or a client order id")


class MexcRestClient:
    """MEXC spot REST. Satisfies `trading.exchange.base.MarketData` and `Trading`."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        api_secret: str = "",
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
        max_retries: int = 4,
        retry_delay_s: float = 0.2,
        order_lookup_attempts: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        account: str = "",
        server_clock: ServerClock | None = None,
        confirm_reads: bool = True,
    ) -> None:
        """`ssl_context`: reuse one TLS context (building one costs ~20 ms of CPU). `account`: a
        non-secret label of the API key; signed calls then draw on that account's budget in a shared
        `limiter`. `server_clock`: a shared, externally refreshed clock offset. `confirm_reads`: read
        an order back after placing it (off when a user-data stream reports its fate instead)."""
        if recv_window_ms > MAX_RECV_WINDOW_MS:
            raise ValueError("MEXC rejects recvWindow above 60000 ms")
        self._key, self._secret = api_key, api_secret
        self._recv_window = recv_window_ms
        self._clock = clock
        self.limiter = limiter or RateLimiter()
        self._max_retries = max_retries
        self._retry_delay = retry_delay_s
        self._lookup_attempts = order_lookup_attempts
        self.clock = server_clock or ServerClock()
        self.account = account
        self.confirm_reads = confirm_reads
        # Requests put on the wire, by "METHOD /path" (what `bench` counts per order).
        self.sent: Counter[str] = Counter()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            verify=ssl_context if ssl_context is not None else True,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            headers={"Content-Type": "application/json", "X-MEXC-APIKEY": api_key},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> MexcRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- transport -------------------------------------------------------------------------------

    async def sync_time(self, samples: int = 1) -> int:
        """Measure the server-clock offset, so a skewed local clock still lands inside recvWindow. With
        several samples the one with the shortest round trip wins (the least queueing noise): what a
        timed send (the sniper at a listing's open) needs."""
        best: tuple[float, int] | None = None
        for _ in range(max(1, samples)):
            before = self._clock()
            server = await self.server_time()
            after = self._clock()
            # serverTime is whole milliseconds, truncated: on average it reads half a ms early.
            offset = round(server + 0.5 - (before + after) * 500)
            if best is None or after - before < best[0]:
                best = (after - before, offset)
        assert best is not None
        self.clock.offset_ms = best[1]
        self.clock.synced_at = self._clock()
        return self.clock.offset_ms

    def _timestamp_ms(self) -> int:
        return int(self._clock() * 1000) + (self.clock.offset_ms or 0)

    async def _query(self, params: Sequence[Param], signed: bool) -> str:
        if not signed:
            return encode_query(params)
        if self.clock.offset_ms is None:
            await self.sync_time()
        stamped = [*params, ("recvWindow", str(self._recv_window)), ("timestamp", str(self._timestamp_ms()))]
        return signed_query(self._secret, stamped)

    async def _send(self, method: str, path: str, params: Sequence[Param], *, signed: bool) -> httpx.Response:
        weight = weight_of(method, path, has_symbol=any(k == "symbol" for k, _ in params))
        await self.limiter.acquire(self._scope(signed), path, weight)
        query = await self._query(params, signed)
        self.sent[f"{method} {path}"] += 1
        # The query is pre-encoded: MEXC checks the signature against these exact bytes, so httpx must
        # not re-encode it, and every parameter travels in the query string (empty body) for all methods.
        url = f"{path}?{query}" if query else path
        try:
            return await self._http.request(method, url)
        except httpx.TimeoutException as exc:
            raise ExchangeUnavailable(f"MEXC did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ExchangeUnavailable(f"Could not reach MEXC ({type(exc).__name__})") from exc

    def _scope(self, signed: bool) -> str:
        if not signed:
            return Scope.IP
        return f"{Scope.UID}:{self.account}" if self.account else Scope.UID

    async def _request(
        self,
        method: str,
        path: str,
        params: Sequence[Param] = (),
        *,
        signed: bool = False,
        symbol: str | None = None,
        retry_unavailable: bool | None = None,
    ) -> Any:
        """One call with the retries that are always safe: 429 (never processed), a stale timestamp
        (rejected before processing) and, for reads, 5xx/timeouts."""
        retry_5xx = method == "GET" if retry_unavailable is None else retry_unavailable
        resynced = False
        for attempt in range(self._max_retries + 1):
            last = attempt == self._max_retries
            try:
                return await self._once(method, path, params, signed=signed, symbol=symbol)
            except IpBanned:
                raise
            except RateLimited:
                if last:
                    raise
            except TimestampOutOfWindow:
                if resynced or not signed:
                    raise
                resynced = True
                await self.sync_time()
            except ExchangeUnavailable:
                if last or not retry_5xx:
                    raise
                await asyncio.sleep(self._retry_delay * 2**attempt)
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, path: str, params: Sequence[Param], *, signed: bool, symbol: str | None
    ) -> Any:
        response = await self._send(method, path, params, signed=signed)
        status = response.status_code
        metrics.exchange_response(status)
        if status == 418:
            retry = _retry_after(response, 120.0)
            await self.limiter.aban(retry)
            raise IpBanned(retry_after=retry, http_status=418)
        if status == 429:
            retry = _retry_after(response, 1.0)
            await self.limiter.apause(self._scope(signed), retry, endpoint=path)
            raise RateLimited(retry_after=retry, http_status=429)
        body = self._json(response)
        if status >= 500:
            raise ExchangeUnavailable(
                http_status=status, raw_message=self._msg(body) or response.reason_phrase
            )
        if status >= 400 or self._is_error_body(body):
            code = body.get("code") if isinstance(body, dict) else None
            raise error_for(
                int(code) if code is not None else status, self._msg(body), http_status=status, symbol=symbol
            )
        return body

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {"msg": response.text[:200]}

    @staticmethod
    def _msg(body: Any) -> str:
        return str(body.get("msg") or "") if isinstance(body, dict) else ""

    @staticmethod
    def _is_error_body(body: Any) -> bool:
        # Some successes come wrapped with code 0 or 200; an error body is {code, msg} with no data.
        return isinstance(body, dict) and "data" not in body and body.get("code") not in (None, 0, 200)

    # ---- market data -----------------------------------------------------------------------------

    async def ping(self) -> None:
        await self._request("GET", "/api/v3/ping")

    async def server_time(self) -> int:
        body = await self._request("GET", "/api/v3/time")
        return int(body["serverTime"])

    async def api_symbols(self) -> frozenset[str]:
        """Symbols MEXC lets this API trade; others fail with 10007 even when listed."""
        body = await self._request("GET", "/api/v3/defaultSymbols")
        return frozenset(str(s) for s in parsing.unwrap(body) or ())

    async def symbols(self, symbols: Sequence[str] | None = None) -> list[SymbolRules]:
        params: list[Param] = []
        if symbols and len(symbols) == 1:
            params = [("symbol", symbols[0])]
        elif symbols:
            params = [("symbols", ",".join(symbols))]
        body, api = await asyncio.gather(
            self._request("GET", "/api/v3/exchangeInfo", params), self.api_symbols()
        )
        return parsing.symbols_rules(body.get("symbols"), api_symbols=api)

    async def tickers(self, symbols: Sequence[str] | None = None) -> list[Ticker]:
        if symbols and len(symbols) == 1:
            return [await self.ticker(symbols[0])]
        body = await self._request("GET", "/api/v3/ticker/24hr")
        wanted = set(symbols or ())
        return [parsing.ticker(raw) for raw in body if not wanted or raw["symbol"] in wanted]

    async def ticker(self, symbol: str) -> Ticker:
        body = await self._request("GET", "/api/v3/ticker/24hr", [("symbol", symbol)], symbol=symbol)
        return parsing.ticker(body[0] if isinstance(body, list) else body)

    async def depth(self, symbol: str, *, limit: int = 100) -> OrderBook:
        params = [("symbol", symbol), ("limit", str(limit))]
        body = await self._request("GET", "/api/v3/depth", params, symbol=symbol)
        return parsing.order_book(symbol, body)

    async def trades(self, symbol: str, *, limit: int = 500) -> list[Trade]:
        params = [("symbol", symbol), ("limit", str(limit))]
        body = await self._request("GET", "/api/v3/trades", params, symbol=symbol)
        return [parsing.trade(symbol, raw) for raw in body]

    async def klines(self, query: KlineQuery) -> list[Kline]:
        symbol, interval = query.symbol, query.interval
        if interval not in parsing.REST_INTERVALS:
            raise InvalidParameter(f"Unsupported kline interval {interval!r}")
        params: list[Param] = [("symbol", symbol), ("interval", parsing.REST_INTERVALS[interval])]
        bounds = (("startTime", query.start_ms), ("endTime", query.end_ms))
        params += [(k, str(v)) for k, v in bounds if v is not None]
        params.append(("limit", str(query.limit)))
        body = await self._request("GET", "/api/v3/klines", params, symbol=symbol)
        return [parsing.kline(symbol, interval, row) for row in body]

    # ---- account and orders ----------------------------------------------------------------------

    async def balances(self) -> list[Balance]:
        body = await self._request("GET", "/api/v3/account", signed=True)
        return [parsing.balance(raw) for raw in body.get("balances") or ()]

    async def place_order(self, request: OrderRequest, *, confirm: bool | None = None) -> OrderState:
        """Idempotent by client order id: after a 5xx or timeout the exchange is asked whether the order
        exists before anything is re-sent, so an order is neither lost nor doubled."""
        params = order_params(request)
        for _ in range(self._max_retries + 1):
            try:
                body = await self._request(
                    "POST",
                    "/api/v3/order",
                    params,
                    signed=True,
                    symbol=request.symbol,
                    retry_unavailable=False,
                )
            except ExchangeUnavailable as exc:
                found = await self._reconcile(request, exc)
                if found is not None:
                    return found
                continue
            return await self._confirm(request, body, self.confirm_reads if confirm is None else confirm)
        raise OutcomeUnknown(client_order_id=request.client_order_id, symbol=request.symbol)

    async def _reconcile(self, request: OrderRequest, cause: ExchangeError) -> OrderState | None:
        # -2013 has been seen briefly right after a successful place, so one miss is not proof.
        for attempt in range(self._lookup_attempts):
            try:
                return await self.get_order(request.symbol, client_order_id=request.client_order_id)
            except UnknownOrder:
                await asyncio.sleep(self._retry_delay * (attempt + 1))
            except ExchangeUnavailable as exc:
                raise OutcomeUnknown(
                    client_order_id=request.client_order_id, symbol=request.symbol, raw_message=str(cause)
                ) from exc
        return None

    async def _confirm(self, request: OrderRequest, body: Any, confirm: bool) -> OrderState:
        """POST /order returns no status or fills, so read the order back (unless `confirm_reads` is
        off: a user-data stream then reports its fate). A -2013 right after placing means "not visible
        yet", not "gone": it is read again shortly, and if it is still not visible the answer is the
        placement's echo, status NEW, which the stream or reconcile later settles."""
        order_id = str(body["orderId"])
        for attempt in range(self._lookup_attempts if confirm else 0):
            try:
                return await self.get_order(request.symbol, order_id=order_id)
            except UnknownOrder:
                await asyncio.sleep(self._retry_delay * (attempt + 1))
            except ExchangeUnavailable:
                break
        return self._echo(request, order_id, body)

    @staticmethod
    def _echo(request: OrderRequest, order_id: str, body: Any) -> OrderState:
        return OrderState(
            symbol=request.symbol,
            order_id=order_id,
            client_order_id=request.client_order_id,
            side=request.side,
            type=request.type,
            status=OrderStatus.NEW,
            price=request.price,
            orig_quantity=request.quantity,
            executed_quantity=parsing.ZERO,
            cumulative_quote_quantity=parsing.ZERO,
            orig_quote_quantity=request.quote_quantity,
            time_ms=parsing.opt_int(body.get("transactTime")),
        )

    async def test_order(self, request: OrderRequest) -> None:
        """Validate an order on the exchange without placing it."""
        params = order_params(request)
        await self._request("POST", "/api/v3/order/test", params, signed=True, symbol=request.symbol)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        params = [("symbol", symbol), *_order_ref(order_id, client_order_id)]
        try:
            body = await self._request(
                "DELETE", "/api/v3/order", params, signed=True, symbol=symbol, retry_unavailable=False
            )
        except ExchangeUnavailable:
            # The cancel may have landed; the order's state says so, and a second cancel is harmless.
            state = await self.get_order(symbol, order_id=order_id, client_order_id=client_order_id)
            if not state.is_open:
                return state
            body = await self._request("DELETE", "/api/v3/order", params, signed=True, symbol=symbol)
        return parsing.order_state(body)

    async def cancel_all(self, symbol: str) -> list[OrderState]:
        body = await self._request(
            "DELETE", "/api/v3/openOrders", [("symbol", symbol)], signed=True, symbol=symbol
        )
        return [parsing.order_state(raw) for raw in body or ()]

    async def get_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> OrderState:
        params = [("symbol", symbol), *_order_ref(order_id, client_order_id)]
        body = await self._request("GET", "/api/v3/order", params, signed=True, symbol=symbol)
        return parsing.order_state(body)

    async def open_orders(self, symbol: str) -> list[OrderState]:
        body = await self._request(
            "GET", "/api/v3/openOrders", [("symbol", symbol)], signed=True, symbol=symbol
        )
        return [parsing.order_state(raw) for raw in body]

    async def all_orders(self, symbol: str, *, limit: int = 500) -> list[OrderState]:
        params = [("symbol", symbol), ("limit", str(limit))]
        body = await self._request("GET", "/api/v3/allOrders", params, signed=True, symbol=symbol)
        return [parsing.order_state(raw) for raw in body]

    async def my_trades(self, symbol: str, *, order_id: str | None = None) -> list[Fill]:
        params: list[Param] = [("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", order_id))
        params.append(("limit", "100"))
        body = await self._request("GET", "/api/v3/myTrades", params, signed=True, symbol=symbol)
        return [parsing.fill(raw) for raw in body]

    # ---- user data stream keys -------------------------------------------------------------------

    async def create_listen_key(self) -> str:
        body = await self._request("POST", "/api/v3/userDataStream", signed=True, retry_unavailable=True)
        return str(body["listenKey"])

    async def keepalive_listen_key(self, listen_key: str) -> None:
        params = [("listenKey", listen_key)]
        await self._request("PUT", "/api/v3/userDataStream", params, signed=True, retry_unavailable=True)

    async def delete_listen_key(self, listen_key: str) -> None:
        await self._request("DELETE", "/api/v3/userDataStream", [("listenKey", listen_key)], signed=True)


__all__ = ["DEFAULT_BASE_URL", "MexcRestClient", "OrderType", "order_params"]
