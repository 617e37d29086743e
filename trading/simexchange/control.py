"""``/_sim/``: a small HTTP face over the scenario methods for tests that run the server out of process.

All endpoints take and return JSON; none is rate limited or signed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange


def _ok(**extra: Any) -> web.Response:
    return web.json_response({"ok": True, **extra})


def add_routes(app: web.Application, sim: SimExchange) -> None:  # noqa: C901  (one small handler a route)
    async def listing(request: web.Request) -> web.Response:
        body = await request.json()
        sym = sim.add_listing(
            body["symbol"],
            opens_at=int(body["openTime"]),
            price=Decimal(str(body["price"])),
            quote_asset=body.get("quoteAsset", "USDT"),
            api_market_orders=bool(body.get("apiMarketOrders", True)),
        )
        return _ok(symbol=sym.name)

    async def open_listing(request: web.Request) -> web.Response:
        sim.open_listing((await request.json())["symbol"])
        return _ok()

    async def market_orders(request: web.Request) -> web.Response:
        body = await request.json()
        sim.set_api_market_orders(body["symbol"], enabled=bool(body["enabled"]))
        return _ok()

    async def api_trading(request: web.Request) -> web.Response:
        body = await request.json()
        sim.set_api_tradable(body["symbol"], enabled=bool(body["enabled"]))
        return _ok()

    async def price(request: web.Request) -> web.Response:
        body = await request.json()
        sim.set_price(body["symbol"], Decimal(str(body["price"])))
        return _ok()

    async def balance(request: web.Request) -> web.Response:
        body = await request.json()
        sim.set_balance(body["asset"], Decimal(str(body["free"])))
        return _ok()

    async def account(request: web.Request) -> web.Response:
        body = await request.json()
        balances = {k.upper(): Decimal(str(v)) for k, v in (body.get("balances") or {}).items()}
        added = sim.add_account(str(body["apiKey"]), str(body["apiSecret"]), balances)
        return _ok(uid=added.uid)

    async def orders(request: web.Request) -> web.Response:
        return _ok(orders=sim.accepted_orders(request.query["symbol"]), rateLimited=sim.limiter.refused)

    async def fault(request: web.Request) -> web.Response:
        body = await request.json()
        path, count, method = body.get("path", "/api/v3/"), int(body.get("count", 1)), body.get("method")
        if body.get("rateLimited"):
            sim.rate_limit_next(count, path=path, method=method)
        elif body.get("delay"):
            sim.delay_next(path, seconds=float(body["delay"]), count=count, method=method)
        else:
            after = bool(body.get("afterProcessing", False))
            sim.fail_next(
                path, status=int(body.get("status", 503)), count=count, method=method, after_processing=after
            )
        return _ok()

    async def symbol_status(request: web.Request) -> web.Response:
        body = await request.json()
        sim.set_symbol_status(body["symbol"], body.get("status"))
        return _ok()

    async def order_invisible(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        sim.order_invisible_next(int(body.get("count", 1)))
        return _ok()

    async def silence(request: web.Request) -> web.Response:
        return _ok(silenced=sim.silence_websockets())

    async def clear_faults(request: web.Request) -> web.Response:
        sim.faults.clear()
        return _ok()

    async def disconnect(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        dropped = await sim.disconnect_websockets(abrupt=bool(body.get("abrupt", False)))
        return _ok(disconnected=dropped)

    app.router.add_post("/_sim/listing", listing)
    app.router.add_post("/_sim/listing/open", open_listing)
    app.router.add_post("/_sim/market-orders", market_orders)
    app.router.add_post("/_sim/api-trading", api_trading)
    app.router.add_post("/_sim/price", price)
    app.router.add_post("/_sim/balance", balance)
    app.router.add_post("/_sim/account", account)
    app.router.add_get("/_sim/orders", orders)
    app.router.add_post("/_sim/fault", fault)
    app.router.add_post("/_sim/faults/clear", clear_faults)
    app.router.add_post("/_sim/symbol-status", symbol_status)
    app.router.add_post("/_sim/order-invisible", order_invisible)
    app.router.add_post("/_sim/ws/silence", silence)
    app.router.add_post("/_sim/ws/disconnect", disconnect)
