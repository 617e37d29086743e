"""Binary MEXC push frames (one PushDataV3ApiWrapper each, no length prefix) -> plain stream events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from trading.exchange.events import (
    BalanceUpdate,
    BookTickerEvent,
    DepthEvent,
    DepthSnapshotEvent,
    FillEvent,
    KlineEvent,
    OrderUpdate,
    StreamEvent,
    TickerEvent,
    TradesEvent,
)
from trading.exchange.parsing import FROM_WS_INTERVAL
from trading.exchange.proto import PushDataV3ApiWrapper_pb2
from trading.exchange.types import BookLevel, Fill, Kline, OrderStatus, OrderType, Side, Trade

Wrapper = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper

# Numeric enums of the private channels.
_SIDES = {1: Side.BUY, 2: Side.SELL}
_ORDER_TYPES = {
    1: OrderType.LIMIT,
    2: OrderType.LIMIT_MAKER,
    3: OrderType.IMMEDIATE_OR_CANCEL,
    4: OrderType.FILL_OR_KILL,
    5: OrderType.MARKET,
}
_STATUSES = {
    1: OrderStatus.NEW,
    2: OrderStatus.FILLED,
    3: OrderStatus.PARTIALLY_FILLED,
    4: OrderStatus.CANCELED,
    5: OrderStatus.PARTIALLY_CANCELED,
}
_ZERO = Decimal(0)


def _d(text: str) -> Decimal:
    # proto3 strings default to "", which means "absent" rather than zero-valued text.
    return Decimal(text) if text else _ZERO


def _levels(items: Any) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(Decimal(i.price), Decimal(i.quantity)) for i in items)


def _symbol(msg: Any) -> str:
    if msg.symbol:
        return str(msg.symbol)
    # Channel names put the symbol last for aggre.* and second-to-last for kline/limit.depth/miniTicker.
    parts = str(msg.channel).split("@")
    return next((p for p in reversed(parts) if p.isupper() and p.isalnum() and not p[0].isdigit()), "")


def _time(msg: Any) -> int:
    return int(msg.sendTime or msg.createTime)


def _deals(msg: Any) -> list[StreamEvent]:
    symbol = _symbol(msg)
    trades = tuple(
        Trade(
            symbol=symbol,
            price=Decimal(x.price),
            quantity=Decimal(x.quantity),
            time_ms=int(x.time),
            taker_side=_SIDES.get(x.tradeType, Side.BUY),
            trade_id=x.tradeId or None,
        )
        for x in msg.publicAggreDeals.deals
    )
    return [TradesEvent(symbol=symbol, trades=trades)]


def _depth(msg: Any) -> list[StreamEvent]:
    body = msg.publicAggreDepths
    return [
        DepthEvent(
            symbol=_symbol(msg),
            bids=_levels(body.bids),
            asks=_levels(body.asks),
            from_version=int(body.fromVersion or 0),
            to_version=int(body.toVersion or 0),
            time_ms=_time(msg),
        )
    ]


def _limit_depth(msg: Any) -> list[StreamEvent]:
    body = msg.publicLimitDepths
    return [
        DepthSnapshotEvent(
            symbol=_symbol(msg),
            bids=_levels(body.bids),
            asks=_levels(body.asks),
            version=int(body.version or 0),
            time_ms=_time(msg),
        )
    ]


def _kline(msg: Any) -> list[StreamEvent]:
    k = msg.publicSpotKline
    kline = Kline(
        symbol=_symbol(msg),
        interval=FROM_WS_INTERVAL.get(k.interval, k.interval),
        # WS windows are in seconds, unlike every other MEXC timestamp.
        open_time_ms=int(k.windowStart) * 1000,
        close_time_ms=int(k.windowEnd) * 1000,
        open=_d(k.openingPrice),
        high=_d(k.highestPrice),
        low=_d(k.lowestPrice),
        close=_d(k.closingPrice),
        volume=_d(k.volume),
        quote_volume=_d(k.amount),
    )
    return [KlineEvent(kline=kline)]


def _mini_ticker(t: Any, time_ms: int) -> TickerEvent:
    # `volume` is quote turnover and `quantity` base volume on this channel; `zonedRate` follows the
    # timezone chosen in the topic.
    return TickerEvent(
        symbol=str(t.symbol),
        last_price=_d(t.price),
        change_fraction=_d(t.zonedRate or t.rate),
        high_price=_d(t.high),
        low_price=_d(t.low),
        volume=_d(t.quantity),
        quote_volume=_d(t.volume),
        time_ms=time_ms,
    )


def _ticker(msg: Any) -> list[StreamEvent]:
    return [_mini_ticker(msg.publicMiniTicker, _time(msg))]


def _tickers(msg: Any) -> list[StreamEvent]:
    time_ms = _time(msg)
    return [_mini_ticker(t, time_ms) for t in msg.publicMiniTickers.items]


def _book_ticker(symbol: str, b: Any, time_ms: int) -> BookTickerEvent:
    return BookTickerEvent(
        symbol=symbol,
        bid_price=_d(b.bidPrice),
        bid_quantity=_d(b.bidQuantity),
        ask_price=_d(b.askPrice),
        ask_quantity=_d(b.askQuantity),
        time_ms=time_ms,
    )


def _aggre_book_ticker(msg: Any) -> list[StreamEvent]:
    return [_book_ticker(_symbol(msg), msg.publicAggreBookTicker, _time(msg))]


def _book_ticker_batch(msg: Any) -> list[StreamEvent]:
    symbol, time_ms = _symbol(msg), _time(msg)
    return [_book_ticker(symbol, b, time_ms) for b in msg.publicBookTickerBatch.items]


def _order(msg: Any) -> list[StreamEvent]:
    o = msg.privateOrders
    update = OrderUpdate(
        symbol=_symbol(msg),
        order_id=str(o.id),
        client_order_id=o.clientId or None,
        side=_SIDES.get(o.tradeType, Side.BUY),
        type=_ORDER_TYPES.get(o.orderType),
        status=_STATUSES.get(o.status, OrderStatus.NEW),
        price=_d(o.price),
        quantity=_d(o.quantity),
        quote_amount=_d(o.amount),
        average_price=_d(o.avgPrice),
        executed_quantity=_d(o.cumulativeQuantity),
        executed_quote=_d(o.cumulativeAmount),
        remaining_quantity=_d(o.remainQuantity),
        last_fill_quantity=_d(o.lastDealQuantity) if o.HasField("lastDealQuantity") else None,
        is_maker=bool(o.isMaker),
        time_ms=int(o.createTime) or _time(msg),
    )
    return [update]


def _deal(msg: Any) -> list[StreamEvent]:
    x = msg.privateDeals
    fill = Fill(
        symbol=_symbol(msg),
        trade_id=str(x.tradeId),
        order_id=str(x.orderId),
        client_order_id=x.clientOrderId or None,
        side=_SIDES.get(x.tradeType, Side.BUY),
        price=_d(x.price),
        quantity=_d(x.quantity),
        quote_quantity=_d(x.amount),
        commission=_d(x.feeAmount),
        commission_asset=str(x.feeCurrency),
        is_maker=bool(x.isMaker),
        time_ms=int(x.time) or _time(msg),
    )
    return [FillEvent(fill=fill)]


def _account(msg: Any) -> list[StreamEvent]:
    a = msg.privateAccount
    update = BalanceUpdate(
        asset=str(a.vcoinName),
        free=_d(a.balanceAmount),
        locked=_d(a.frozenAmount),
        free_change=_d(a.balanceAmountChange),
        locked_change=_d(a.frozenAmountChange),
        reason=str(a.type),
        time_ms=int(a.time) or _time(msg),
    )
    return [update]


_HANDLERS: dict[str, Callable[[Any], list[StreamEvent]]] = {
    "publicAggreDeals": _deals,
    "publicAggreDepths": _depth,
    "publicLimitDepths": _limit_depth,
    "publicSpotKline": _kline,
    "publicMiniTicker": _ticker,
    "publicMiniTickers": _tickers,
    "publicAggreBookTicker": _aggre_book_ticker,
    "publicBookTickerBatch": _book_ticker_batch,
    "privateOrders": _order,
    "privateDeals": _deal,
    "privateAccount": _account,
}


def decode_frame(data: bytes) -> list[StreamEvent]:
    """Decode one binary frame. Unknown or legacy bodies yield no events rather than an error."""
    msg = Wrapper()
    msg.ParseFromString(data)
    kind = msg.WhichOneof("body")
    handler = _HANDLERS.get(kind) if kind else None
    return handler(msg) if handler else []
