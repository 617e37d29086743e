"""The exchange site's new-coin calendar, as the bundled exchange serves it for the offline demo.

`GET /api/operation/new_coin_calendar?timestamp=<ms>` answers `{"code": 0, "data": {"newCoins": [...]}}`
with one entry per scripted listing (`SimExchange.add_listing`): `vcoinId`, `vcoinName` (the base
asset), `vcoinNameFull`, `firstOpenTime` (ms) and `zone`, the fields ../shared/mexc/LISTINGS.md lists
for the real, unofficial endpoint on www.mexc.com. Listings stay on it for a day after they open, as
the site keeps recent ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

PATH = "/api/operation/new_coin_calendar"
KEPT_AFTER_OPEN_MS = 86_400_000


def calendar_body(sim: SimExchange) -> dict[str, Any]:
    now = sim.now()
    coins = [
        {
            "vcoinId": f"sim-{state.base.lower()}",
            "vcoinName": state.base,
            "vcoinNameFull": state.base,
            "firstOpenTime": state.opens_at,
            "zone": "NEW",
        }
        for state in sim.market.listings
        if state.opens_at is not None and state.opens_at + KEPT_AFTER_OPEN_MS > now
    ]
    return {"code": 0, "msg": "success", "data": {"newCoins": coins}}


def add_routes(app: web.Application, sim: SimExchange) -> None:
    async def new_coin_calendar(_request: web.Request) -> web.Response:
        return web.json_response(calendar_body(sim))

    app.router.add_get(PATH, new_coin_calendar)
