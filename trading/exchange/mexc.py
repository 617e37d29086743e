"""The MEXC adapter Brute holds: REST (`MexcRestClient`) plus the user data stream, as one `Exchange`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from trading.exchange.events import UserEvent
from trading.exchange.mexc_rest import DEFAULT_BASE_URL, MexcRestClient
from trading.exchange.mexc_ws import DEFAULT_WS_URL, MexcStream, StreamConfig, Topics
from trading.exchange.orderbook import LocalOrderBook
from trading.exchange.user_stream import MexcUserStream


class MexcExchange(MexcRestClient):
    """Satisfies `trading.exchange.base.Exchange` and `UserStream`."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        ws_url: str = DEFAULT_WS_URL,
        stream_config: StreamConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url=base_url, **kwargs)
        self.ws_url = ws_url
        self.stream_config = stream_config
        self._user: MexcUserStream | None = None

    def market_stream(self) -> MexcStream:
        return MexcStream(self.ws_url, config=self.stream_config)

    def order_book(self, symbol: str, *, snapshot_depth: int = 1000) -> LocalOrderBook:
        async def fetch() -> Any:
            return await self.depth(symbol, limit=snapshot_depth)

        return LocalOrderBook(symbol, fetch)

    async def start_user_stream(self) -> MexcUserStream:
        """Open the listenKey socket and wait until the private channels are subscribed, so that
        nothing placed afterwards can be missed. `user_events()` calls it on first use."""
        if self._user is None:
            self._user = MexcUserStream(self, self.ws_url, config=self.stream_config)
            await self._user.start()
            await self._user.stream.wait_subscribed()
        return self._user

    async def user_events(self) -> AsyncIterator[UserEvent]:
        user = await self.start_user_stream()
        async for event in user.user_events():
            yield event

    async def aclose(self) -> None:
        if self._user is not None:
            await self._user.aclose()
        await super().aclose()


__all__ = ["MexcExchange", "MexcStream", "StreamConfig", "Topics"]

if TYPE_CHECKING:
    from trading.exchange.base import Exchange, UserStream

    def _satisfies(x: MexcExchange) -> tuple[Exchange, UserStream]:
        return x, x
