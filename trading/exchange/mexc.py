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

    async def user_events(self) -> AsyncIterator[UserEvent]:
        if self._user is None:
            self._user = MexcUserStream(self, self.ws_url, config=self.stream_config)
            await self._user.start()
        async for event in self._user.user_events():
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
