"""JSON shapes of MEXC REST answers (fact sheet sections 6-8): strings for amounts, ms for times."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.simexchange.accounts import Account, MyTrade
from trading.simexchange.candles import Candle
from trading.simexchange.market import DAY, SymbolState, Trade
from trading.simexchange.matching import BUY, Order

TIME_IN_FORCE = {"LIMIT": "GTC", "LIMIT_MAKER": "GTC", "IMMEDIATE_OR_CANCEL": "IOC", "FILL_OR_KILL": "FOK"}


def num(value: Decimal | None) -> str:
    """Plain decimal text without exponent or trailing zeros, as MEXC prints amounts."""
    if value is None:
        return "0"
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0.0") else text


def order_json(order: Order) -> dict[str, Any]:
    price = order.price if order.price is not None else order.reference_price
    return {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": num(price),
        "origQty": num(order.quantity),
        "executedQty": num(order.executed),
        "cummulativeQuoteQty": num(order.cum_quote),
        "status": order.status,
        "timeInForce": TIME_IN_FORCE.get(order.type),
        "type": order.type,
        "side": order.side,
        "stopPrice": None,
        "icebergQty": None,
        "time": order.created,
        "updateTime": order.updated,
        "isWorking": True,
        "stpMode": "",
        "cancelReason": None,
        "origQuoteOrderQty": num(order.quote_qty),
    }


def placed_json(order: Order) -> dict[str, Any]:
    """MEXC's answer to a new order: some of the order's fields and when it was placed."""
    full = order_json(order)
    keys = ("symbol", "orderId", "orderListId", "price", "origQty", "type", "side", "stpMode")
    return {**{k: full[k] for k in keys}, "transactTime": order.created}


def cancel_json(order: Order, orig_client_id: str | None) -> dict[str, Any]:
    full = order_json(order)
    keys = ("symbol", "orderId", "clientOrderId", "price", "origQty", "executedQty", "cummulativeQuoteQty")
    return {
        "origClientOrderId": orig_client_id or order.client_order_id,
        **{k: full[k] for k in keys},
        "status": order.status,
        "timeInForce": full["timeInForce"],
        "type": order.type,
        "side": order.side,
    }


def my_trade_json(trade: MyTrade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order.order_id,
        "orderListId": -1,
        "price": num(trade.price),
        "qty": num(trade.qty),
        "quoteQty": num(trade.quote),
        "commission": num(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.is_buyer,
        "isMaker": trade.is_maker,
        "isBestMatch": True,
        "isSelfTrade": trade.is_self_trade,
        "clientOrderId": trade.order.client_order_id,
    }


def account_json(account: Account, now: int) -> dict[str, Any]:
    balances = [
        {"asset": asset, "free": num(b.free), "locked": num(b.locked), "available": num(b.free)}
        for asset, b in sorted(account.balances.items())
        if b.free or b.locked
    ]
    return {
        "makerCommission": None,
        "takerCommission": None,
        "buyerCommission": None,
        "sellerCommission": None,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "updateTime": None,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
    }


def trade_json(trade: Trade) -> dict[str, Any]:
    return {
        "id": None,
        "price": num(trade.price),
        "qty": num(trade.qty),
        "quoteQty": num(trade.quote),
        "time": trade.time,
        "isBuyerMaker": trade.taker_side != BUY,
        "isBestMatch": True,
        "tradeType": "BID" if trade.taker_side == BUY else "ASK",
    }


def agg_trade_json(trade: Trade) -> dict[str, Any]:
    return {
        "a": None,
        "f": None,
        "l": None,
        "p": num(trade.price),
        "q": num(trade.qty),
        "T": trade.time,
        "m": trade.taker_side != BUY,
        "M": True,
    }


def kline_row(candle: Candle) -> list[Any]:
    return [
        candle.open_time,
        num(candle.open),
        num(candle.high),
        num(candle.low),
        num(candle.close),
        num(candle.volume),
        candle.close_time,
        num(candle.quote_volume),
    ]


def quotes(sym: SymbolState) -> tuple[str, str, str, str]:
    """Best bid/ask; an idle symbol has no book, so one tick either side of its last price stands in."""
    bid, ask = sym.best_bid_ask()
    if bid is None and ask is None and not sym.active:
        step = sym.price_step
        return num(sym.last_price - step), "", num(sym.last_price + step), ""
    return (
        num(bid[0]) if bid else "",
        num(bid[1]) if bid else "",
        num(ask[0]) if ask else "",
        num(ask[1]) if ask else "",
    )


def ticker_24h(sym: SymbolState, now: int) -> dict[str, Any]:
    day, last = sym.day, sym.last_price
    change = last - day.open
    percent = (change / day.open).quantize(Decimal("0.0001")) if day.open else Decimal(0)
    bid, bid_qty, ask, ask_qty = quotes(sym)
    return {
        "symbol": sym.name,
        "priceChange": num(sym.round_price(change)),
        "priceChangePercent": num(percent),
        "prevClosePrice": num(day.open),
        "lastPrice": num(last),
        "bidPrice": bid,
        "bidQty": bid_qty,
        "askPrice": ask,
        "askQty": ask_qty,
        "openPrice": num(day.open),
        "highPrice": num(day.high),
        "lowPrice": num(day.low),
        "volume": num(day.volume),
        "quoteVolume": num(day.quote_volume.quantize(Decimal("0.01"))),
        "openTime": now - DAY,
        "closeTime": now,
        "count": None,
    }


def book_ticker(sym: SymbolState) -> dict[str, Any]:
    bid, bid_qty, ask, ask_qty = quotes(sym)
    return {"symbol": sym.name, "bidPrice": bid, "bidQty": bid_qty, "askPrice": ask, "askQty": ask_qty}
