"""The one WebSocket a page opens: /ws/live/. Transport only: authenticate, join groups, forward.

Groups (names from trading/realtime.py):
  "markets"          every symbol's ticker, for the markets view
  "market.<SYMBOL>"  one watched symbol: its ticker, order book ladder, trades and forming candles
  "user.<id>"        the signed-in user's private events; always joined, never anyone else's

Subscribing: `/ws/live/?groups=markets,market.BTCUSDT` (comma or space separated), and/or text frames
{"subscribe": ["market.ETHUSDT"]} and {"unsubscribe": ["market.BTCUSDT"]} at any time. The server
answers each with {"type": "subscribed", "groups": [...joined...], "refused": [...]}.

Frames to the browser (JSON text; numbers are decimal strings, times epoch milliseconds):
  {"type": "tickers", "data": {"BTCUSDT": {"price", "change" (24 h, percent), "high", "low",
      "volume" (base), "quote_volume", "bid", "ask"}, ...}}           only the symbols that changed
  {"type": "ticker", "symbol", "price", "change", "high", "low", "volume", "quote_volume", "bid", "ask"}
  {"type": "book", "symbol", "version", "bids": [[price, qty], ...], "asks": [[price, qty], ...]}
      the top 20 levels a side, best first, replacing the previous ladder
  {"type": "trades", "symbol", "trades": [{"p", "q", "s": "BUY"|"SELL" (taker), "t"}, ...]}  new ones
  {"type": "candle", "symbol", "interval" ("1m".."1d", REST names), "t" (open time), "o", "h", "l",
      "c", "v", "qv", "closed": false}                                  the forming candle
  {"type": "batch", "messages": [...]}    several of the above for one group in one frame
  {"type": "order.changed", "order": {...}}, {"type": "balance.changed", "mode"},
  {"type": "account.changed"}, {"type": "symbols.changed", "events"}   from trading/realtime.py
  {"type": "order"|"fill"|"balance"|"notification", ...}              any other private event
  (an order.changed event's order has the API's OrderOut fields: trading/schemas.py, order_json)

The market feed publishes each group's frame at most every 100 ms (a symbol) or 250 ms ("markets"),
serialized once for the whole group. The consumer has no channel-layer channel of its own: it joins
its groups in the process's one broadcaster (trading/broadcast.py), which receives each group message
once per process and writes the same frame to every socket of the group.

A socket lives only as long as the sign-in that opened it: every WS_SESSION_CHECK_S seconds (default
10) it checks its session again, and once that session has ended (signed out, signed out everywhere,
the password changed, the user deactivated) it leaves its groups and closes with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from config.realtime import ALL_MARKETS_GROUP, FEED_CONTROL_GROUP, market_group, user_group
from trading.broadcast import SERVER_SEND, Socket, Wire, hub
from trading.feed.service import WATCH_MESSAGE, WATCH_RENEW_S
from trading.feed.store import symbols_known

log = logging.getLogger(__name__)

MAX_GROUPS = 12
SESSION_ENDED = 4401
_MARKET_PREFIX = market_group("")


class LiveConsumer(AsyncWebsocketConsumer):
    # No alias of CHANNEL_LAYERS: no per-socket channel; group messages come through the hub.
    channel_layer_alias = "brute.no-per-socket-channel"

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.private_group = user_group(user.pk)
        self.joined: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._session_check: asyncio.Task[None] | None = None
        await self.accept()
        # Frames from the broadcaster go straight to the connection where the server allows it.
        self.socket = Socket(self.base_send, Wire.of(self.scope.get(SERVER_SEND)))
        await hub().join(self.private_group, self.socket)
        self.joined.add(self.private_group)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = [g for value in query.get("groups", []) for g in value.replace(",", " ").split()]
        await self._subscribe(wanted)
        self._session_check = asyncio.create_task(self._check_session_forever(user.pk))

    async def disconnect(self, code: int) -> None:
        if self._renewer_running():
            assert self._renewer is not None
            self._renewer.cancel()
        check = getattr(self, "_session_check", None)
        if check is not None and check is not asyncio.current_task():
            check.cancel()
        await self._leave_all()

    async def _leave_all(self) -> None:
        if hasattr(self, "socket"):
            self.socket.discard()
        for group in list(getattr(self, "joined", ())):
            await hub().leave(group, self.socket)
        if hasattr(self, "joined"):
            self.joined.clear()

    # ---- the session -------------------------------------------------------------------------------

    async def _check_session_forever(self, user_pk: Any) -> None:
        """Closes the socket (4401) once the session that opened it no longer signs its user in."""
        while True:
            await asyncio.sleep(float(settings.WS_SESSION_CHECK_S))
            try:
                alive = await self._session_alive(user_pk)
            except Exception:  # the database or cache hiccuped: ask again next time
                log.warning("Could not re-check a live socket's session", exc_info=True)
                continue
            if not alive:
                await self._leave_all()
                await self.close(code=SESSION_ENDED)
                return

    async def _session_alive(self, user_pk: Any) -> bool:
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key:
            return False
        engine = importlib.import_module(settings.SESSION_ENGINE)
        # A fresh read of the store (not the copy in the scope): the sign-in as it is now, with
        # Django's own checks (the session hash follows the password and "sign out everywhere").
        user = await get_user({"session": engine.SessionStore(session_key=key)})
        return bool(user.is_authenticated and user.pk == user_pk)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            request = json.loads(text_data or "")
        except ValueError:
            await self._reply({"type": "error", "error": "expected JSON"})
            return
        if not isinstance(request, dict):
            await self._reply({"type": "error", "error": "expected a JSON object"})
            return
        if isinstance(request.get("unsubscribe"), list):
            await self._unsubscribe([g for g in request["unsubscribe"] if isinstance(g, str)])
        if isinstance(request.get("subscribe"), list):
            await self._subscribe([g for g in request["subscribe"] if isinstance(g, str)])

    # ---- groups ------------------------------------------------------------------------------------

    async def _allowed(self, wanted: list[str]) -> set[str]:
        allowed = {g for g in wanted if g in (ALL_MARKETS_GROUP, self.private_group)}
        symbols = {g.removeprefix(_MARKET_PREFIX) for g in wanted if g.startswith(_MARKET_PREFIX)}
        if symbols:
            known = await database_sync_to_async(symbols_known)(symbols)
            allowed |= {market_group(s) for s in known}
        return allowed

    async def _subscribe(self, wanted: list[str]) -> None:
        wanted = list(dict.fromkeys(wanted))
        room = MAX_GROUPS - len(self.joined)
        allowed = await self._allowed(wanted)
        fresh = [g for g in wanted if g in allowed and g not in self.joined][: max(room, 0)]
        for group in fresh:
            await hub().join(group, self.socket)
            self.joined.add(group)
        await self._renew_watch()
        if self._watched() and not self._renewer_running():
            self._renewer = asyncio.create_task(self._renew_forever())
        refused = [g for g in wanted if g not in self.joined]
        await self._reply({"type": "subscribed", "groups": sorted(self.joined), "refused": refused})

    async def _unsubscribe(self, groups: list[str]) -> None:
        for group in groups:
            if group in self.joined and group != self.private_group:
                await hub().leave(group, self.socket)
                self.joined.discard(group)
        await self._reply({"type": "subscribed", "groups": sorted(self.joined), "refused": []})

    def _watched(self) -> list[str]:
        return sorted(g.removeprefix(_MARKET_PREFIX) for g in self.joined if g.startswith(_MARKET_PREFIX))

    def _renewer_running(self) -> bool:
        return getattr(self, "_renewer", None) is not None and not self._renewer.done()  # type: ignore[union-attr]

    async def _renew_watch(self) -> None:
        symbols = self._watched()
        layer = get_channel_layer()
        if symbols and layer is not None:
            await layer.group_send(FEED_CONTROL_GROUP, {"type": WATCH_MESSAGE, "symbols": symbols})

    async def _renew_forever(self) -> None:
        while self._watched():
            await asyncio.sleep(WATCH_RENEW_S)
            with contextlib.suppress(Exception):  # a layer hiccup: the next renewal is well in time
                await self._renew_watch()

    async def _reply(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))
