"""Periodic market pushes: each frame is rendered once per channel, then queued to every subscriber."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from trading.simexchange import frames
from trading.simexchange.market import SymbolState, Trade
from trading.simexchange.matching import BUY, SELL
from trading.simexchange.ws import DepthFeed, Topic

if TYPE_CHECKING:
    from trading.simexchange.server import SimExchange

ZERO = Decimal(0)
Level = tuple[Decimal, Decimal]
DepthUpdate = tuple[tuple[list[Level], list[Level]], tuple[int, int]]
BOOK_KINDS = frozenset({"deals", "depth", "bookTicker", "bookTickerBatch", "limitDepth"})


class Publisher:
    def __init__(self, sim: SimExchange) -> None:
        self.sim = sim

    async def run(self, interval: float, step: str) -> None:
        action = {"books": self.push_books, "klines": self.push_klines, "minis": self.push_minis}[step]
        while True:
            await asyncio.sleep(interval)
            action(self.sim.now())

    def _topics_by_symbol(self, kinds: frozenset[str]) -> dict[str, list[Topic]]:
        grouped: dict[str, list[Topic]] = defaultdict(list)
        for name, conns in self.sim.hub.subscribers.items():
            if not conns:
                continue
            topic = next(iter(conns)).topics[name]
            if topic.kind in kinds and topic.symbol is not None:
                grouped[topic.symbol].append(topic)
        return grouped

    def push_books(self, now: int) -> None:
        grouped = self._topics_by_symbol(BOOK_KINDS)
        hub = self.sim.hub
        for sym in self.sim.market.active():
            trades, sym.pending_deals = sym.pending_deals, []
            feed = hub.depth_feeds.setdefault(sym.name, DepthFeed())
            depth = self._depth_changes(sym, feed)
            for topic in grouped.get(sym.name, ()):
                frame = self._render(topic, sym, feed, trades, depth, now)
                if frame is not None:
                    hub.publish(topic.name, frame)
            feed.best = sym.best_bid_ask()
            feed.limit_version = sym.book.version

    def _render(
        self,
        topic: Topic,
        sym: SymbolState,
        feed: DepthFeed,
        trades: list[Trade],
        depth: DepthUpdate | None,
        now: int,
    ) -> bytes | None:
        if topic.kind == "deals":
            return frames.deals(topic.name, topic.event_type, sym, trades, now) if trades else None
        if topic.kind == "depth":
            if depth is None:
                return None
            return frames.aggre_depth(topic.name, topic.event_type, sym, depth[0], depth[1], now)
        if topic.kind == "limitDepth":
            if feed.limit_version == sym.book.version:
                return None
            return frames.limit_depth(topic.name, topic.event_type, sym, int(topic.arg or 5), now)
        if feed.best == sym.best_bid_ask():
            return None
        return frames.book_ticker(topic.name, sym, now, batch=topic.kind == "bookTickerBatch")

    @staticmethod
    def _depth_changes(sym: SymbolState, feed: DepthFeed) -> DepthUpdate | None:
        """Levels whose quantity changed since the last push (0 = removed) and the version range covered."""
        book = sym.book
        if book.version == feed.pushed_version:
            return None
        sides: list[list[Level]] = []
        for side in (SELL, BUY):
            told, changed = feed.told[side], sorted(book.changed[side], reverse=side == BUY)
            levels: list[Level] = []
            for price in changed:
                qty = book.level_qty(side, price)
                if told.get(price, ZERO) != qty:
                    levels.append((price, qty))
                    if qty:
                        told[price] = qty
                    else:
                        told.pop(price, None)
            book.changed[side].clear()
            sides.append(levels)
        versions = (feed.pushed_version + 1, book.version)
        feed.pushed_version = book.version
        return (sides[0], sides[1]), versions

    def push_klines(self, now: int) -> None:
        for symbol, topics in self._topics_by_symbol(frozenset({"kline"})).items():
            sym = self.sim.market.symbols[symbol]
            if sym.candles is None:
                continue
            for topic in topics:
                interval = topic.arg or "Min1"
                candle = sym.candles.current(interval, now, sym.last_price)
                self.sim.hub.publish(topic.name, frames.kline(topic.name, sym, interval, candle, now))

    def push_minis(self, now: int) -> None:
        hub = self.sim.hub
        for symbol, topics in self._topics_by_symbol(frozenset({"miniTicker"})).items():
            sym = self.sim.market.symbols[symbol]
            for topic in topics:
                hub.publish(topic.name, frames.mini_ticker(topic.name, sym, now))
        everything = [t for t in hub.topics_of("miniTickers")]
        if everything:
            frame_cache: dict[str, bytes] = {}
            symbols = list(self.sim.market.symbols.values())
            for topic in everything:
                frame_cache[topic.name] = frames.mini_tickers(topic.name, symbols, now)
                hub.publish(topic.name, frame_cache[topic.name])
