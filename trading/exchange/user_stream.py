"""MEXC user data stream: a listenKey (created and kept alive over signed REST) opens a socket on
which the private orders/deals/account channels are subscribed like public ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from trading.exchange.errors import ExchangeError
from trading.exchange.events import BalanceUpdate, FillEvent, OrderUpdate, StreamEvent, UserEvent
from trading.exchange.mexc_rest import MexcRestClient
from trading.exchange.mexc_ws import DEFAULT_WS_URL, MexcStream, StreamConfig, Topics

log = logging.getLogger(__name__)

# Keys expire 60 min after the last PUT; MEXC advises a PUT every 30 min.
KEEPALIVE_S = 30 * 60


class MexcUserStream:
    def __init__(
        self,
        rest: MexcRestClient,
        ws_url: str = DEFAULT_WS_URL,
        *,
        keepalive_s: float = KEEPALIVE_S,
        config: StreamConfig | None = None,
    ) -> None:
        self._rest = rest
        self._ws_url = ws_url
        self._keepalive_s = keepalive_s
        self.listen_key: str | None = None
        self.stream = MexcStream(ws_url, config=config, url_factory=self._url)
        self.stream.on_text = self._on_text
        self._keepalive: asyncio.Task[None] | None = None
        self.keepalives = 0

    async def _url(self) -> str:
        if self.listen_key is None:
            self.listen_key = await self._rest.create_listen_key()
        return f"{self._ws_url}?listenKey={self.listen_key}"

    def _on_text(self, text: str) -> None:
        if "Invalid listen key" in text:
            # The key expired (missed keep-alive, or the server forgot it): reconnect with a new one.
            self.listen_key = None
            self.stream.rotate_all()

    async def start(self) -> None:
        await self._url()
        await self.stream.subscribe(Topics.PRIVATE)
        self._keepalive = asyncio.create_task(self._keep_alive())

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_s)
            key = self.listen_key
            if key is None:
                continue
            try:
                await self._rest.keepalive_listen_key(key)
                self.keepalives += 1
            except ExchangeError as exc:
                log.warning("listenKey keep-alive failed (%s); opening a new key", exc)
                self.listen_key = None
                self.stream.rotate_all()

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Everything, including StreamReconnected (after which a consumer should re-read open orders)."""
        async for event in self.stream.events():
            yield event

    async def user_events(self) -> AsyncIterator[UserEvent]:
        async for event in self.stream.events():
            if isinstance(event, OrderUpdate | FillEvent | BalanceUpdate):
                yield event

    async def aclose(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        await self.stream.aclose()
        if self.listen_key is not None:
            with contextlib.suppress(ExchangeError):
                await self._rest.delete_listen_key(self.listen_key)
