"""Running the feed inside the live (WebSocket) process, for installs without Redis.

Without REDIS_URL the channel layer is `InMemoryChannelLayer`, which reaches only consumers of its
own process, so the feed has to live in the process that holds the sockets (`make run`'s "live",
uvicorn). Under a server that sends the ASGI lifespan protocol (uvicorn) `FeedStarter` starts it at
start-up and stops it at shutdown; under daphne 4.2, which never sends a "lifespan" scope, it starts
lazily and idempotently on the first HTTP request or WebSocket connection the process serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections

from trading.feed import local_books
from trading.feed.service import FeedConfig, MarketFeed, exchange_from_settings

log = logging.getLogger(__name__)

_feed: MarketFeed | None = None
_task: asyncio.Task[None] | None = None


def ensure_started() -> MarketFeed:
    """Start the process's one feed on the running loop, unless it is already running."""
    global _feed, _task
    if _feed is not None and _task is not None and not _task.done():
        return _feed
    _feed = MarketFeed(exchange_from_settings(), config=FeedConfig.from_settings())
    local_books.serve(_feed.books)  # the paper exchange of this process fills against them
    _task = asyncio.get_running_loop().create_task(_run(_feed))
    log.info("market feed started in the live process (no REDIS_URL)")
    return _feed


PAPER_MATCH_EVERY_S = 2.0


def _closing(fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn` for a pool thread: the thread's database connections close when it returns, so no idle
    connection (or, on a file, a read snapshot) outlives the call in a thread nobody reuses for it."""

    def call() -> Any:
        try:
            return fn()
        finally:
            connections.close_all()

    return call


async def _match_paper_orders() -> None:
    """Fills resting paper orders the market crossed. Without Redis only this process reaches the
    browsers, so matching runs here (not in the Celery worker) for its fills to show up live."""
    # Imported here: the trading services reach this module through trading.exchanges (a cycle).
    from trading.services import paper_orders_match

    while True:
        await asyncio.sleep(PAPER_MATCH_EVERY_S)
        try:
            await sync_to_async(_closing(paper_orders_match), thread_sensitive=False)()
        except Exception:
            log.exception("paper order matching failed; retrying")


async def _run(feed: MarketFeed) -> None:
    matcher = asyncio.get_running_loop().create_task(_match_paper_orders())
    try:
        await feed.run()
    finally:
        matcher.cancel()
        await feed.exchange.aclose()


async def stop() -> None:
    global _feed, _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
    _feed = _task = None
    local_books.serve(None)


class FeedStarter:
    """ASGI middleware: starts the in-process feed when `enabled`, then hands the scope on."""

    def __init__(self, app: Any, *, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.enabled:
            ensure_started()
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.enabled:
                    ensure_started()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
