"""Binary PushDataV3ApiWrapper frames, built once per channel and shared by every subscriber."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

from trading.exchange.proto import PublicMiniTickerV3Api_pb2 as mini_pb
from trading.exchange.proto import PushDataV3ApiWrapper_pb2 as pb
from trading.simexchange.accounts import MyTrade
from trading.simexchange.candles import Candle
from trading.simexchange.engine import BalanceEvent, OrderEvent
from trading.simexchange.formats import num
from trading.simexchange.market import SymbolState, Trade
from trading.simexchange.matching import BUY, Order

ORDER_TYPE_CODES = {"LIMIT": 1, "LIMIT_MAKER": 2, "IMMEDIATE_OR_CANCEL": 3, "FILL_OR_KILL": 4, "MARKET": 5}
STATUS_CODES = {"NEW": 1, "FILLED": 2, "PARTIALLY_FILLED": 3, "CANCELED": 4, "PARTIALLY_CANCELED": 5}
PRIVATE_ACCOUNT = "spot@private.account.v3.api.pb"
PRIVATE_ORDERS = "spot@private.orders.v3.api.pb"
PRIVATE_DEALS = "spot@private.deals.v3.api.pb"


def wrapper(channel: str, symbol: str | None, now: int) -> pb.PushDataV3ApiWrapper:
    frame = pb.PushDataV3ApiWrapper(channel=channel, sendTime=now)
    if symbol is not None:
        frame.symbol = symbol
    return frame


def symbol_id(name: str) -> str:
    return hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()


def deals(channel: str, event_type: str, sym: SymbolState, trades: list[Trade], now: int) -> bytes:
    frame = wrapper(channel, sym.name, now)
    body = frame.publicAggreDeals
    body.eventType = event_type
    for trade in trades:
        body.deals.add(
            price=num(trade.price),
            quantity=num(trade.qty),
            tradeType=1 if trade.taker_side == BUY else 2,
            time=trade.time,
            tradeId=trade.trade_id,
        )
    return frame.SerializeToString()


Levels = Iterable[tuple[Decimal, Decimal]]


def aggre_depth(
    channel: str,
    event_type: str,
    sym: SymbolState,
    changes: tuple[Levels, Levels],
    versions: tuple[int, int],
    now: int,
) -> bytes:
    frame = wrapper(channel, sym.name, now)
    body = frame.publicAggreDepths
    body.eventType = event_type
    body.fromVersion, body.toVersion = str(versions[0]), str(versions[1])
    body.lastOrderCreateTime = sym.book.last_order_time
    for price, qty in changes[0]:
        body.asks.add(price=num(price), quantity=num(qty))
    for price, qty in changes[1]:
        body.bids.add(price=num(price), quantity=num(qty))
    return frame.SerializeToString()


def limit_depth(channel: str, event_type: str, sym: SymbolState, levels: int, now: int) -> bytes:
    frame = wrapper(channel, sym.name, now)
    body = frame.publicLimitDepths
    body.eventType = event_type
    body.version = str(sym.book.version)
    body.lastOrderCreateTime = sym.book.last_order_time
    for price, qty in sym.book.depth("SELL", levels):
        body.asks.add(price=num(price), quantity=num(qty))
    for price, qty in sym.book.depth("BUY", levels):
        body.bids.add(price=num(price), quantity=num(qty))
    return frame.SerializeToString()


def book_ticker(channel: str, sym: SymbolState, now: int, *, batch: bool) -> bytes:
    frame = wrapper(channel, sym.name, now)
    bid, ask = sym.best_bid_ask()
    fields = {
        "bidPrice": num(bid[0]) if bid else "",
        "bidQuantity": num(bid[1]) if bid else "",
        "askPrice": num(ask[0]) if ask else "",
        "askQuantity": num(ask[1]) if ask else "",
    }
    if batch:
        frame.publicBookTickerBatch.items.add(**fields)
        frame.publicBookTickerBatch.version = str(sym.book.version)
        frame.publicBookTickerBatch.lastOrderCreateTime = sym.book.last_order_time
    else:
        body = frame.publicAggreBookTicker
        body.bidPrice, body.bidQuantity = fields["bidPrice"], fields["bidQuantity"]
        body.askPrice, body.askQuantity = fields["askPrice"], fields["askQuantity"]
        body.version = str(sym.book.version)
        body.lastOrderCreateTime = sym.book.last_order_time
    return frame.SerializeToString()


def kline(channel: str, sym: SymbolState, interval: str, candle: Candle, now: int) -> bytes:
    frame = pb.PushDataV3ApiWrapper(
        channel=channel, symbol=sym.name, symbolId=symbol_id(sym.name), createTime=now
    )
    body = frame.publicSpotKline
    body.interval = interval
    # The one place MEXC uses seconds: the kline window bounds.
    body.windowStart, body.windowEnd = candle.open_time // 1000, candle.close_time // 1000
    body.openingPrice, body.closingPrice = num(candle.open), num(candle.close)
    body.highestPrice, body.lowestPrice = num(candle.high), num(candle.low)
    body.volume, body.amount = num(candle.volume), num(candle.quote_volume.quantize(Decimal("0.01")))
    return frame.SerializeToString()


def mini_ticker_fields(sym: SymbolState) -> dict[str, str]:
    day = sym.day
    rate = num(((sym.last_price - day.open) / day.open).quantize(Decimal("0.0001"))) if day.open else "0"
    return {
        "symbol": sym.name,
        "price": num(sym.last_price),
        "rate": rate,
        "zonedRate": rate,
        "high": num(day.high),
        "low": num(day.low),
        "volume": num(day.quote_volume.quantize(Decimal("0.0001"))),
        "quantity": num(day.volume),
        "lastCloseRate": rate,
        "lastCloseZonedRate": rate,
        "lastCloseHigh": num(day.high),
        "lastCloseLow": num(day.low),
    }


def mini_ticker(channel: str, sym: SymbolState, now: int) -> bytes:
    frame = wrapper(channel, sym.name, now)
    frame.publicMiniTicker.CopyFrom(mini_pb.PublicMiniTickerV3Api(**mini_ticker_fields(sym)))
    return frame.SerializeToString()


def mini_tickers(channel: str, symbols: Iterable[SymbolState], now: int) -> bytes:
    frame = wrapper(channel, None, now)
    for sym in symbols:
        frame.publicMiniTickers.items.add(**mini_ticker_fields(sym))
    return frame.SerializeToString()


def private_account(event: BalanceEvent, now: int) -> bytes:
    frame = pb.PushDataV3ApiWrapper(channel=PRIVATE_ACCOUNT, createTime=event.time, sendTime=now)
    balance = event.account.balance(event.asset)
    body = frame.privateAccount
    body.vcoinName, body.coinId = event.asset, symbol_id(event.asset)
    body.balanceAmount, body.balanceAmountChange = num(balance.free), num(event.free_change)
    body.frozenAmount, body.frozenAmountChange = num(balance.locked), num(event.locked_change)
    body.type, body.time = event.reason, event.time
    return frame.SerializeToString()


def private_order(event: OrderEvent, now: int) -> bytes:
    order: Order = event.order
    frame = wrapper(PRIVATE_ORDERS, order.symbol, now)
    body = frame.privateOrders
    avg = order.cum_quote / order.executed if order.executed else Decimal(0)
    body.id, body.clientId = order.order_id, order.client_order_id or ""
    body.price = num(order.price if order.price is not None else order.reference_price)
    body.quantity, body.amount = num(order.quantity), num(order.quote_qty)
    body.avgPrice = num(avg.quantize(Decimal("0.00000001")))
    body.orderType, body.tradeType = ORDER_TYPE_CODES[order.type], 1 if order.side == BUY else 2
    body.isMaker = event.is_maker
    body.remainQuantity = num(max(order.remaining, Decimal(0)))
    body.remainAmount = num(max((order.quote_qty or Decimal(0)) - order.cum_quote, Decimal(0)))
    if event.last_deal_qty is not None:
        body.lastDealQuantity = num(event.last_deal_qty)
    body.cumulativeQuantity, body.cumulativeAmount = num(order.executed), num(order.cum_quote)
    body.status, body.createTime = STATUS_CODES[order.status], order.created
    return frame.SerializeToString()


def private_deal(trade: MyTrade, now: int) -> bytes:
    frame = wrapper(PRIVATE_DEALS, trade.symbol, now)
    body = frame.privateDeals
    body.price, body.quantity, body.amount = num(trade.price), num(trade.qty), num(trade.quote)
    body.tradeType = 1 if trade.is_buyer else 2
    body.isMaker, body.isSelfTrade = trade.is_maker, trade.is_self_trade
    body.tradeId, body.orderId = trade.trade_id, trade.order.order_id
    body.clientOrderId = trade.order.client_order_id or ""
    body.feeAmount, body.feeCurrency = num(trade.commission), trade.commission_asset
    body.time = trade.time
    return frame.SerializeToString()
