"""The user-data-stream consumer: one MEXC private stream per live account with keys.

Where it runs: with REDIS_URL, as its own process (`manage.py userstream`, one per install: the
channel layer carries its page updates to every live process); without Redis, inside the live process
(`UserStreamStarter`, next to the in-process market feed), because the in-memory channel layer
reaches only its own process. Either way it runs on the process's `ExchangeHub` loop, through the
hub's account sessions (listen keys are signed calls on the account's budget).

Per account: create a listen key, open the socket, subscribe orders/deals/account; keep the key alive
every 30 min; a stale key or a dropped socket reconnects with a new one (`MexcUserStream`). Every
event is applied as it arrives (`trading.services.userstream`), each in its own short transaction.
Reconcile (orders, and the account's whole balances) runs once the stream is subscribed and again
after every reconnect, because events sent while the socket was down are not replayed. While a
stream is subscribed the consumer keeps a heartbeat in the cache, so placement in any process skips
the read-back (`userstream_alive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache

from accounts.models import User
from trading.exchange.events import BalanceUpdate, FillEvent, OrderUpdate, StreamReconnected
from trading.exchange.hub import ExchangeHub
from trading.exchange.mexc_ws import StreamConfig
from trading.exchange.types import Fill as FillValue
from trading.exchange.user_stream import MexcUserStream
from trading.exchanges import USERSTREAM_FRESH_S, USERSTREAM_KEY, credential_keys, hub
from trading.models import ApiCredential
from trading.positions import position_book
from trading.services.accounts import balances_sync
from trading.services.orders import orders_reconcile
from trading.services.userstream import _live_order, balance_event_apply, fill_event_store, order_event_apply

log = logging.getLogger(__name__)

RESCAN_S = 15.0
HEARTBEAT_S = 5.0
# A fill whose order row is not found yet (its update is still in flight) is tried again this long.
ORPHAN_FILL_S = 30.0


def _credentials() -> dict[int, tuple[str, str]]:
    return {c.user_id: credential_keys(c) for c in ApiCredential.objects.all()}


def _apply_batch(
    user_id: int, fills: list[FillValue], orders: list[OrderUpdate], balances: list[BalanceUpdate]
) -> list[FillValue]:
    """Apply the events (see `UserStreams._on_batch`); returns the fills whose order is unknown yet."""
    orphans, stored = [], []
    for fill in fills:  # the rows first, each committed at once; the positions right after
        if (row := fill_event_store(user_id=user_id, fill=fill)) is not None:
            stored.append(row)
        elif _live_order(user_id, fill.client_order_id, fill.order_id) is None:
            orphans.append(fill)
    for row in stored:
        position_book().apply_fill(row)
    for update in orders:
        order_event_apply(user_id=user_id, event=update)
    for balance in balances:
        balance_event_apply(user_id=user_id, event=balance)
    return orphans


def _reconcile(user_id: int) -> int:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    # The stream reports only the assets that change, and nothing sent while it was down: the whole
    # account is read once per (re)connect, so BTC held before the first trade shows too.
    balances_sync(user_id=user_id)
    return orders_reconcile(user=user)


def _db(fn: Any) -> Any:
    # Each applier runs in a worker thread with its own connection, outside the hub loop.
    return sync_to_async(fn, thread_sensitive=False)


@dataclass
class AccountStream:
    user_id: int
    keys: tuple[str, str]
    stream: MexcUserStream | None = None
    task: asyncio.Task[None] | None = None
    subscribed: bool = False
    events: int = 0
    reconciles: int = 0
    orphans: deque[tuple[float, FillValue]] = field(default_factory=deque)


class UserStreams:
    """Keeps one `AccountStream` per API credential, on the hub loop (`hub.submit(streams.run())`)."""

    def __init__(
        self, exchange_hub: ExchangeHub, *, rescan_s: float = RESCAN_S, config: StreamConfig | None = None
    ) -> None:
        self.hub = exchange_hub
        self.rescan_s = rescan_s
        self.config = config
        self.accounts: dict[int, AccountStream] = {}

    async def run(self) -> None:
        beat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            while True:
                try:
                    await self.rescan()
                except Exception:
                    log.exception("user streams: rescan failed")
                await asyncio.sleep(self.rescan_s)
        finally:
            beat.cancel()
            await self.aclose()

    async def rescan(self) -> None:
        wanted = await _db(_credentials)()
        for user_id, account in list(self.accounts.items()):
            if wanted.get(user_id) != account.keys:
                await self._stop(account)
                del self.accounts[user_id]
        for user_id, keys in wanted.items():
            if user_id not in self.accounts:
                account = AccountStream(user_id, keys)
                account.task = asyncio.get_running_loop().create_task(self._serve(account))
                self.accounts[user_id] = account

    async def _serve(self, account: AccountStream) -> None:
        session = self.hub.account(*account.keys)
        self.hub.pin(session)
        config = self.config or self.hub.stream_config
        try:
            while True:
                account.stream = MexcUserStream(session, self.hub.ws_url, config=config)
                try:
                    await account.stream.start()
                    await account.stream.stream.wait_subscribed()
                    account.subscribed = True
                    await self._mark_alive(account)
                    await self._reconcile(account)
                    stream = account.stream.stream
                    while True:
                        batch = [await stream.next_event(), *stream.drain()]
                        await self._on_batch(account, batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # A key refused, the exchange down: the hub's limiter paces us; try again shortly.
                    log.exception("user stream of user %s failed; restarting", account.user_id)
                finally:
                    account.subscribed = False
                    with contextlib.suppress(Exception):
                        await account.stream.aclose()
                await asyncio.sleep(2.0)
        finally:
            self.hub.pin(session, -1)

    async def _on_batch(self, account: AccountStream, batch: Sequence[object]) -> None:
        """Apply a burst of events in one trip to a worker thread: fills first (what positions and the
        latency target wait for; their order rows exist already, matched by client order id), then
        order updates, then only the newest balance of each asset. A reconnect in the burst
        reconciles afterwards."""
        account.events += len(batch)
        fills = [e.fill for e in batch if isinstance(e, FillEvent)]
        orders = [e for e in batch if isinstance(e, OrderUpdate)]
        balances = list({e.asset: e for e in batch if isinstance(e, BalanceUpdate)}.values())
        retry = [fill for _, fill in account.orphans]
        try:
            orphans = await _db(_apply_batch)(account.user_id, fills + retry, orders, balances)
        except Exception:
            log.exception("user stream events of user %s not applied", account.user_id)
            return
        now = time.monotonic()
        seen = {f.trade_id: t for t, f in account.orphans}
        account.orphans = deque(
            (seen.get(f.trade_id, now), f) for f in orphans if now - seen.get(f.trade_id, now) < ORPHAN_FILL_S
        )
        if any(isinstance(e, StreamReconnected) for e in batch):
            # Whatever happened while the socket was down was not replayed: ask the exchange.
            await self._reconcile(account)

    async def _reconcile(self, account: AccountStream) -> None:
        account.reconciles += 1
        try:
            await _db(_reconcile)(account.user_id)
        except Exception:
            log.exception("reconcile of user %s after (re)connect failed", account.user_id)

    async def _mark_alive(self, account: AccountStream) -> None:
        key = USERSTREAM_KEY.format(user_id=account.user_id)
        await _db(cache.set)(key, time.time(), USERSTREAM_FRESH_S * 2)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            for account in list(self.accounts.values()):
                conns = account.stream.stream._conns if account.stream is not None else []
                if account.subscribed and any(c.ws is not None for c in conns):
                    with contextlib.suppress(Exception):
                        await self._mark_alive(account)

    async def _stop(self, account: AccountStream) -> None:
        if account.task is not None:
            account.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await account.task
        with contextlib.suppress(Exception):
            await _db(cache.delete)(USERSTREAM_KEY.format(user_id=account.user_id))

    async def aclose(self) -> None:
        for account in list(self.accounts.values()):
            await self._stop(account)
        self.accounts.clear()


# ---- in the live process (no Redis) ------------------------------------------------------------------

_running: tuple[UserStreams, Any] | None = None


def ensure_started() -> UserStreams:
    """Start the process's user streams on its hub loop, unless they are running."""
    global _running
    h = hub()
    if _running is None or _running[0].hub is not h or _running[1].done():
        streams = UserStreams(h)
        _running = (streams, h.submit(streams.run()))
        log.info("user-data streams started in this process")
    return _running[0]


class UserStreamStarter:
    """ASGI middleware: starts the in-process user streams on the first request when `enabled`."""

    def __init__(self, app: Any, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.enabled and scope["type"] in ("http", "websocket"):
            ensure_started()
        await self.app(scope, receive, send)
