"""Order parameter parsing and the symbol rules MEXC applies before an order reaches the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from trading.simexchange import errors
from trading.simexchange.accounts import Account
from trading.simexchange.errors import ApiError
from trading.simexchange.market import SymbolState
from trading.simexchange.matching import BUY, SELL, opposite

ORDER_TYPES = frozenset({"LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
PRICED_TYPES = ORDER_TYPES - {"MARKET"}
# The PERCENT_PRICE_BY_SIDE filter covers these types (fact sheet section 6).
BANDED_TYPES = frozenset({"LIMIT", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"})
MAX_OPEN_ORDERS = 500


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: str
    type: str
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_order_id: str | None


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise errors.param_error(f"{name} is not a number") from exc
    if not value.is_finite():
        raise errors.param_error(f"{name} is not a number")
    return value


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise errors.param_missing(name)
    return value


def parse_order(params: Mapping[str, str]) -> OrderRequest:
    side = required(params, "side").upper()
    order_type = required(params, "type").upper()
    if side not in (BUY, SELL):
        raise errors.param_error("side")
    if order_type not in ORDER_TYPES:
        raise errors.param_error("type")
    return OrderRequest(
        symbol=required(params, "symbol").upper(),
        side=side,
        type=order_type,
        quantity=decimal_param(params, "quantity"),
        quote_qty=decimal_param(params, "quoteOrderQty"),
        price=decimal_param(params, "price"),
        client_order_id=params.get("newClientOrderId") or None,
    )


def check_order(sym: SymbolState, req: OrderRequest, *, now: int) -> None:
    """Symbol-level rules, in the order the exchange reports them; balance is checked by the engine."""
    check_tradable(sym, req, now=now)
    check_shape(req)
    check_precision(sym, req)
    check_notional(sym, req)
    check_price_band(sym, req)


def check_tradable(sym: SymbolState, req: OrderRequest, *, now: int) -> None:
    if not sym.api_tradable or (sym.opens_at is not None and now < sym.opens_at):
        raise errors.symbol_not_api()
    side_rule = int(sym.spec.get("tradeSideType", 1))
    if side_rule == 4 or (side_rule == 2 and req.side == SELL) or (side_rule == 3 and req.side == BUY):
        raise ApiError(30001, "current transaction direction not allowed")
    if req.type == "MARKET" and sym.api_market_disabled:
        raise ApiError(30051, "api market order is disabled")
    if req.type not in sym.spec["orderTypes"]:
        # The symbol's exchangeInfo `orderTypes` is what it takes (API.md: "If MARKET is missing,
        # market orders are rejected"); every captured symbol lists LIMIT, MARKET, LIMIT_MAKER at
        # most, so IMMEDIATE_OR_CANCEL and FILL_OR_KILL are refused there with the same 30041.
        raise ApiError(30041, "current order type can not place order")


def check_shape(req: OrderRequest) -> None:
    if req.type in PRICED_TYPES:
        if req.quantity is None:
            raise errors.param_missing("quantity")
        if req.price is None:
            raise errors.param_missing("price")
    elif req.quantity is None and req.quote_qty is None:
        raise errors.param_missing("quantity or quoteOrderQty")
    elif req.quote_qty is not None and req.side == SELL and req.quantity is None:
        raise errors.param_error("quoteOrderQty is only accepted on a MARKET BUY")
    for value in (req.quantity, req.quote_qty, req.price):
        if value is not None and value <= 0:
            raise ApiError(10102, "amount cannot be less than or equal to 0")


def check_precision(sym: SymbolState, req: OrderRequest) -> None:
    if req.quantity is not None and req.quantity != req.quantity.quantize(sym.qty_step):
        raise ApiError(10096, "amount decimal places is too long")
    if req.price is not None and req.price != req.price.quantize(sym.price_step):
        raise ApiError(10096, "price decimal places is too long")


def reference_price(sym: SymbolState, side: str) -> Decimal:
    best = sym.book.best(opposite(side))
    return best if best is not None else sym.last_price


def notional(sym: SymbolState, req: OrderRequest) -> Decimal:
    if req.quantity is None:
        assert req.quote_qty is not None
        return req.quote_qty
    price = req.price if req.price is not None else reference_price(sym, req.side)
    return req.quantity * price


def check_notional(sym: SymbolState, req: OrderRequest) -> None:
    market = req.type == "MARKET"
    minimum = Decimal(sym.spec["quoteAmountPrecisionMarket" if market else "quoteAmountPrecision"])
    maximum = Decimal(sym.spec["maxQuoteAmountMarket" if market else "maxQuoteAmount"])
    min_qty = Decimal(sym.spec.get("baseSizePrecision") or 0)
    if req.quantity is not None and req.quantity < min_qty:
        raise ApiError(30002, f"The minimum transaction volume cannot be less than:{min_qty}{sym.base}")
    value = notional(sym, req)
    if value < minimum:
        raise ApiError(30002, f"The minimum transaction volume cannot be less than:{minimum}{sym.quote}")
    if value > maximum:
        raise ApiError(30003, f"The maximum transaction volume cannot be more than:{maximum}{sym.quote}")


def check_price_band(sym: SymbolState, req: OrderRequest) -> None:
    if req.type not in BANDED_TYPES or req.price is None:
        return
    for rule in sym.spec.get("filters") or []:
        if rule.get("filterType") != "PERCENT_PRICE_BY_SIDE":
            continue
        up, down = Decimal(rule["bidMultiplierUp"]), Decimal(rule["askMultiplierDown"])
        too_high = req.side == BUY and req.price > sym.last_price * up
        too_low = req.side == SELL and req.price < sym.last_price * down
        if too_high or too_low:
            raise ApiError(30087, "Order price exceeds allowed range")


def check_open_order_cap(account: Account) -> None:
    if len(account.open_orders()) >= MAX_OPEN_ORDERS:
        raise ApiError(30029, "Exceeded the maximum number of open orders")
