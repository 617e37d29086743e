"""Orders: validation, placement, recording, cancellation, reconciliation and paper matching.

`order_place` is the one path every caller (views, API, rules, position monitors) uses to trade.
An order's life, and why it cannot be lost or doubled:

1. validation against the synced Symbol row and the account (nothing written on refusal);
2. the Order row is committed first, status PENDING, with our client order id;
3. the exchange adapter places it by that client id (the MEXC client asks the exchange about the id
   before it ever re-sends, so a timeout does not double it);
4. the answer is recorded (status, fills, balances); a crash between 2 and 4 leaves a PENDING row that
   `orders_reconcile` resolves by client id.

Quantities and prices with more decimal places than the symbol allows are refused
("too_many_decimals"), never rounded: rounding would silently trade a different amount than asked.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from config.errors import BruteError, Conflict, ErrorDetail, Forbidden, NotFound
from config.metrics import counted_orders
from trading import realtime
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.paper import PaperExchange, places
from trading.exchange.types import (
    CLIENT_ORDER_ID_MAX,
    PRICED_TYPES,
    OrderBook,
    OrderRequest,
    OrderState,
    OrderType,
    Side,
    SymbolRules,
    Trade,
)
from trading.exchange.types import Fill as FillValue
from trading.exchanges import (
    OrderChanged,
    exchange_builder,
    fills_store,
    paper_balances,
    paper_book,
    paper_builder,
    run,
    symbol_with_rules,
    userstream_alive,
)
from trading.models import (
    ApiCredential,
    Mode,
    Order,
    Symbol,
    TradeSides,
)
from trading.paper_placements import Placement, paper_placement_store
from trading.quotes import last_price
from trading.services.risk import risk_check

if TYPE_CHECKING:
    from accounts.models import User
from trading.services.accounts import (
    balances_sync,
    live_refusal,
    trading_account_get_or_create,
    trading_account_mode,
)
from trading.services.common import refuse
from trading.services.userstream import order_filled_notify, order_state_write

log = logging.getLogger(__name__)
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PENDING_GRACE = timedelta(seconds=60)


# ---- order validation -----------------------------------------------------------------------------


class OrderTerms(TypedDict, total=False):
    """An order's terms as callers of `order_check` and `order_place` give them: strings or
    Decimals (a form's, a JSON body's, a rule's), converted and checked by the service."""

    symbol: Required[str]
    side: Required[str]
    type: Required[str]
    quantity: Decimal | str | None
    quote_quantity: Decimal | str | None
    price: Decimal | str | None


@dataclass(frozen=True)
class OrderInput:
    """An order's terms converted (upper-case symbol, enums, positive Decimals), not yet checked
    against the symbol's rules (`order_validate`)."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None

    @classmethod
    def of(cls, terms: OrderTerms) -> OrderInput:
        """Refuses (422 `validation_error`) an unknown side or type and an amount that is not a
        positive number."""
        return cls(
            symbol=terms["symbol"].strip().upper(),
            side=Side(_enum(terms["side"], Side, "side")),
            type=OrderType(_enum(terms["type"], OrderType, "type")),
            quantity=_amount(terms.get("quantity"), "quantity"),
            quote_quantity=_amount(terms.get("quote_quantity"), "quote amount"),
            price=_amount(terms.get("price"), "price"),
        )

    def columns(self) -> dict[str, object]:
        """The Order row's columns that hold these terms."""
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "quantity": self.quantity,
            "quote_quantity": self.quote_quantity,
            "price": self.price,
        }

    def request(self, client_order_id: str) -> OrderRequest:
        """The exchange request placing these terms under `client_order_id`."""
        return OrderRequest(
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            client_order_id=client_order_id,
            quantity=self.quantity,
            quote_quantity=self.quote_quantity,
            price=self.price if self.type in PRICED_TYPES else None,
        )


def _enum(value: str, enum: type[Side] | type[OrderType], what: str) -> Side | OrderType:
    try:
        return enum(str(value).upper())
    except ValueError:
        raise refuse("validation_error", f"Unknown order {what} {value!r}", 422) from None


def _amount(value: Decimal | str | int | None, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise refuse("validation_error", f"The {what} is not a number", 422) from None
    if not amount.is_finite() or amount <= 0:
        raise refuse("validation_error", f"The {what} must be a positive number", 422)
    return amount


def order_validate(
    *,
    user: User,
    mode: str,
    symbol: Symbol | None,
    order: OrderInput,
) -> None:
    """Every refusal order_place can give before anything is written, each with its own code."""
    if not user.can_trade:
        raise refuse("viewer_cannot_trade", "Your role lets you view the market but not trade", 403)
    if mode == Mode.LIVE and (problem := live_refusal(user)) is not None:
        raise problem
    if symbol is None:
        raise refuse("unknown_symbol", f"{order.symbol} is not a MEXC spot symbol", 404)
    _validate_symbol(symbol, order)
    _validate_shape(order)
    _validate_amounts(symbol, order)


def _validate_symbol(symbol: Symbol, order: OrderInput) -> None:
    name = symbol.symbol
    if not symbol.is_trading:
        raise refuse("symbol_not_trading", f"{name} is not trading on MEXC right now")
    if not symbol.api_allowed:
        raise refuse("api_trading_disabled", f"MEXC does not allow API trading of {name}")
    if order.type.value not in symbol.order_types:
        raise refuse("order_type_not_allowed", f"MEXC does not accept {order.type.value} orders on {name}")
    one_side = TradeSides.BUY_ONLY if order.side == Side.BUY else TradeSides.SELL_ONLY
    if symbol.trade_sides in (TradeSides.BUY_ONLY, TradeSides.SELL_ONLY) and symbol.trade_sides != one_side:
        raise refuse(
            "side_not_allowed",
            f"MEXC accepts only {'sell' if order.side == Side.BUY else 'buy'} orders on {name}",
        )


def _validate_shape(order: OrderInput) -> None:
    """Which amounts each order type takes (MEXC Spot v3 `POST /api/v3/order`: MARKET takes `quantity`
    or, buying, `quoteOrderQty`; every other type `quantity` and `price`). The refusal is 422
    `validation_error` whose details name the amounts at fault: the fields to fill or clear."""
    if order.type == OrderType.MARKET:
        if order.quantity is None and order.quote_quantity is None:
            words = "A market order needs a quantity or a quote amount (quote_quantity)"
            raise _shape_refusal(words, "quantity", "quote_quantity")
        if order.quantity is not None and order.quote_quantity is not None:
            words = "A market order takes a quantity or a quote amount (quote_quantity), not both"
            raise _shape_refusal(words, "quantity", "quote_quantity")
        if order.price is not None:
            raise _shape_refusal("A market order takes no price", "price")
        if order.quote_quantity is not None and order.side == Side.SELL:
            words = "A market sell takes a quantity, not a quote amount (quote_quantity)"
            raise _shape_refusal(words, "quantity", "quote_quantity")
        return
    missing = [
        field for field, amount in (("quantity", order.quantity), ("price", order.price)) if amount is None
    ]
    extra = ["quote_quantity"] if order.quote_quantity is not None else []
    if missing or extra:
        # Each amount at fault, in words: "needs a price", "takes no quote amount", or both.
        faults = [f"needs {' and '.join(f'a {field}' for field in missing)}"] if missing else []
        faults += ["takes no quote amount (quote_quantity)"] if extra else []
        words = f"A {order.type.value} order {' and '.join(faults)}"
        raise _shape_refusal(
            words, *[f for f in ("quantity", "quote_quantity", "price") if f in missing + extra]
        )


def _shape_refusal(message: str, *fields: str) -> BruteError:
    return BruteError(message, code="validation_error", details=[ErrorDetail(f, message) for f in fields])


def _validate_amounts(symbol: Symbol, order: OrderInput) -> None:
    name = symbol.symbol
    for amount, decimals, what in (
        (order.quantity, symbol.quantity_precision, "quantity"),
        (order.price, symbol.price_precision, "price"),
        (order.quote_quantity, symbol.price_precision, "quote amount"),
    ):
        if amount is not None and places(amount) > decimals:
            raise refuse(
                "too_many_decimals", f"The {what} of a {name} order allows at most {decimals} decimal places"
            )
    if order.quantity is not None and order.quantity < symbol.min_quantity:
        raise refuse(
            "below_min_quantity", f"The minimum quantity on {name} is {symbol.min_quantity.normalize():f}"
        )
    notional, minimum, maximum = _notional(symbol, order)
    if notional is None:
        return
    if notional < minimum:
        raise refuse(
            "below_min_notional",
            f"The minimum order value on {name} is {minimum.normalize():f} {symbol.quote_asset}",
        )
    if maximum is not None and notional > maximum:
        raise refuse(
            "above_max_notional",
            f"The maximum order value on {name} is {maximum.normalize():f} {symbol.quote_asset}",
        )


def _notional(symbol: Symbol, order: OrderInput) -> tuple[Decimal | None, Decimal, Decimal | None]:
    if order.type == OrderType.MARKET:
        # A market order by quantity has no known value before it fills; the exchange checks it.
        return order.quote_quantity, symbol.min_notional_market, symbol.max_notional_market
    assert order.price is not None
    assert order.quantity is not None
    return order.price * order.quantity, symbol.min_notional, symbol.max_notional


def _check_paper_funds(user: User, symbol: Symbol, order: OrderInput) -> None:
    """The paper store is local, so a shortfall is caught before the market is read or anything is
    written (the placement's transaction checks again, against the balances it then holds)."""
    if order.side == Side.BUY:
        asset = symbol.quote_asset
        needed = order.quote_quantity if order.quote_quantity is not None else None
        if order.price is not None and order.quantity is not None:
            needed = order.price * order.quantity
    else:
        asset, needed = symbol.base_asset, order.quantity
    if needed is None:
        return
    free = paper_balances(user.pk, [asset]).get(asset, (0, Decimal(0), Decimal(0)))[1]
    if free < needed:
        # In the asset's places as the order form's Available line shows them (the quote asset to 2, the
        # coin to its lot): what is free cut down, never shown as more; what is needed rounded up.
        step = Decimal(1).scaleb(-(2 if asset == symbol.quote_asset else symbol.quantity_precision))
        shown_free, shown_needed = free.quantize(step, ROUND_DOWN), needed.quantize(step, ROUND_UP)
        raise refuse(
            "insufficient_balance", f"Not enough {asset}: {shown_free:,f} available, {shown_needed:,f} needed"
        )


# ---- placing, recording, cancelling ---------------------------------------------------------------


REFUSAL_CODES: tuple[tuple[type[xerr.ExchangeError], str], ...] = (
    (xerr.InsufficientBalance, "insufficient_balance"),
    (xerr.SymbolNotApiTradable, "api_trading_disabled"),
    (xerr.MarketOrdersDisabled, "order_type_not_allowed"),
    (xerr.TradingSuspended, "symbol_not_trading"),
    (xerr.BelowMinimum, "below_min_notional"),
    (xerr.AboveMaximum, "above_max_notional"),
    (xerr.InvalidAmount, "too_many_decimals"),
    (xerr.PriceOutOfRange, "price_out_of_range"),
    (xerr.AuthenticationError, "invalid_api_key"),
    (xerr.RateLimited, "rate_limited"),
)


def exchange_refusal(exc: xerr.ExchangeError) -> BruteError:
    for cls, code in REFUSAL_CODES:
        if isinstance(exc, cls):
            return refuse(code, str(exc), 429 if code == "rate_limited" else 400)
    return refuse("order_rejected", str(exc))


def client_order_id_new() -> str:
    return "br" + uuid.uuid4().hex[: CLIENT_ORDER_ID_MAX - 2]


def order_check(*, user: User, **terms: Unpack[OrderTerms]) -> None:
    """The refusals `order_place` would give this order before anything is written (the symbol's
    rules, precisions and minimums), for a preview that must not promise what placing refuses.
    Raises BruteError; writes nothing."""
    order = OrderInput.of(terms)
    found = symbol_with_rules(order.symbol)
    order_validate(
        user=user, mode=trading_account_mode(user=user), symbol=found[0] if found else None, order=order
    )


def order_place(
    *,
    user: User,
    source: str = Order.Source.MANUAL,
    client_order_id: str | None = None,
    cancel_rest: bool = False,
    **terms: Unpack[OrderTerms],
) -> Order:
    """Validate, record, place and settle one order on the user's current account (paper or live).

    `cancel_rest`: an immediate-or-cancel emulated with a plain LIMIT (MEXC lists no IOC orders on
    most symbols): right after the exchange accepts the order, what did not fill at once is cancelled,
    and the order returned is final (its fills kept, CANCELED or PARTIALLY_CANCELED as the exchange
    names it, or FILLED). A cancel the exchange does not confirm leaves the order open, as it reads.

    Refusals raise BruteError with a code (see module doc). A transport failure whose outcome the
    exchange cannot confirm returns the order still PENDING; `orders_reconcile` settles it."""
    order = OrderInput.of(terms)
    if source not in Order.Source.values:
        raise refuse("validation_error", f"Unknown order source {source!r}", 422)
    if client_order_id is not None:
        if not CLIENT_ID_RE.match(client_order_id):
            raise refuse("validation_error", "A client order id is 1-32 letters, digits, '-' or '_'", 422)
        if (replay := Order.objects.filter(client_order_id=client_order_id).first()) is not None:
            if replay.user_id != user.pk:
                raise Conflict("This client order id is already in use")
            # A bot must not believe a different order was placed: only a true retry replays (the
            # stored terms equal to these; Decimal equality ignores trailing zeros).
            if any(getattr(replay, column) != value for column, value in order.columns().items()):
                raise Conflict(
                    "This client order id was used for an order with other parameters "
                    f"({replay.side} {replay.type} {replay.symbol})",
                    code="client_order_id_reused",
                )
            return replay  # a retry of an order we already have: the same order, never a second one
    mode = trading_account_mode(user=user)
    found = symbol_with_rules(order.symbol)
    order_validate(user=user, mode=mode, symbol=found[0] if found else None, order=order)
    assert found is not None
    risk_check(user=user, symbol=order.symbol, side=order.side.value, notional=_estimated_notional(order))
    if mode == Mode.PAPER:
        _check_paper_funds(user, found[0], order)
        return _paper_place(
            user=user,
            rules=found[1],
            order=order,
            source=source,
            client_order_id=client_order_id,
            cancel_rest=cancel_rest,
        )
    row = _order_create(user=user, mode=mode, order=order, source=source, client_order_id=client_order_id)
    return _order_submit(row, order.request(row.client_order_id), cancel_rest=cancel_rest)


def _estimated_notional(order: OrderInput) -> Decimal | None:
    """The quote value risk limits are checked against; a market order by quantity uses the last price."""
    if order.quote_quantity is not None:
        return order.quote_quantity
    price = order.price if order.price is not None else last_price(order.symbol)
    return price * order.quantity if price is not None and order.quantity is not None else None


def _order_create(
    *,
    user: User,
    mode: str,
    order: OrderInput,
    source: str,
    client_order_id: str | None,
    status: str = Order.Status.PENDING,
    error: str = "",
) -> Order:
    try:
        with transaction.atomic():
            row = Order.objects.create(
                user=user,
                mode=mode,
                client_order_id=client_order_id or client_order_id_new(),
                source=source,
                status=status,
                error=error,
                **order.columns(),
            )
            realtime.order_changed(row)
    except IntegrityError:
        raise Conflict("This client order id is already in use") from None
    return row


def _paper_place(
    *,
    user: User,
    rules: SymbolRules,
    order: OrderInput,
    source: str,
    client_order_id: str | None,
    cancel_rest: bool = False,
) -> Order:
    """A paper order in one write transaction, on this thread, without an event loop: the book is
    read first (the market feed's, or one REST request shared with concurrent orders, outside any
    transaction), the fills are computed against the symbol's `rules` (already checked by
    `order_validate`, so not again), then the Order row, its fills, the balances and the fill
    notification are written together, in one transaction with the other placements this process's
    threads have queued meanwhile (trading/paper_placements.py); this returns once it has committed.
    Nothing was placed until that commit, so there is no PENDING row to reconcile: a refusal or an
    unreachable market records one REJECTED row instead. The live events leave after the commit,
    without waiting (config/livebus.py). With `cancel_rest` the rest is cancelled in the same
    computation, so the row is stored final: no moment in which it rests on the book."""
    request = order.request(client_order_id or client_order_id_new())

    def notify(row: Order) -> None:
        row.user = user  # the notification's recipient, without reading the user again
        try:
            order_filled_notify(row)  # inside the order's transaction: stored with it or not at all
        except DatabaseError:
            raise  # the transaction itself failed: it is retried whole or refused, never half
        except Exception:
            log.exception("order %s: the fill notification was not stored", row.client_order_id)

    try:
        book = paper_book(order.symbol)
        placed, fills, ledger = PaperExchange.placement(
            rules, request, book, _now_ms(), cancel_rest=cancel_rest
        )
        row = paper_placement_store(
            Placement(
                user_id=user.pk, source=source, order=placed, fills=fills, changes=ledger.changes, then=notify
            )
        )
    except IntegrityError:
        raise Conflict("This client order id is already in use") from None
    except xerr.ExchangeError as exc:
        _order_create(
            user=user,
            mode=Mode.PAPER,
            order=order,
            source=source,
            client_order_id=request.client_order_id,
            status=Order.Status.REJECTED,
            error=str(exc),
        )
        if isinstance(exc, xerr.ExchangeUnavailable):
            raise refuse("exchange_unavailable", f"{exc}; nothing was placed", 503) from None
        raise exchange_refusal(exc) from None
    _order_announce(row, notify=False)  # committed: the live events leave now (or at a caller's commit)
    return row


def _now_ms() -> int:
    return int(time.time() * 1000)


def _order_announce(row: Order, *, notify: bool = True) -> None:
    """Live events and (`notify`) the fill notification of an order change. Inside a transaction
    they wait for its commit; a failure of theirs is logged, never raised: the order stands."""
    realtime.order_changed(row)
    realtime.balance_changed(row.user_id, row.mode)
    if notify:
        transaction.on_commit(lambda: order_filled_notify(row), robust=True)


@counted_orders
def _order_submit(row: Order, request: OrderRequest, *, cancel_rest: bool = False) -> Order:
    async def place(exchange: Exchange) -> tuple[OrderState, list[FillValue]]:
        state = await exchange.place_order(request)
        if cancel_rest and state.is_open:
            state = await _rest_cancel(exchange, state)
        return state, await _fills_of(exchange, state)

    try:
        state, fills = run(exchange_builder(row.user_id, row.mode), place)
    except xerr.OutcomeUnknown as exc:
        return _order_mark(row, error=str(exc))
    except xerr.ExchangeUnavailable as exc:
        # Not placed or not confirmed: the PENDING row stays for reconciliation by client id.
        return _order_mark(row, error=f"{exc}; the order will be checked again")
    except xerr.ExchangeError as exc:
        _order_mark(row, status=Order.Status.REJECTED, error=str(exc))
        raise exchange_refusal(exc) from None
    return order_record(row, state, fills)


async def _rest_cancel(exchange: Exchange, state: OrderState) -> OrderState:
    """Cancel the rest of an order the exchange has just accepted, on the same session; the order's
    state afterwards. An order no longer open (it filled meanwhile) is read back; a cancel that fails
    otherwise leaves the order as placed (open), to be cancelled by the caller or by hand."""
    order_id, client_order_id = state.order_id or None, state.client_order_id
    try:
        return await exchange.cancel_order(state.symbol, order_id=order_id, client_order_id=client_order_id)
    except xerr.UnknownOrder:
        try:
            return await exchange.get_order(state.symbol, order_id=order_id, client_order_id=client_order_id)
        except xerr.ExchangeError as exc:
            log.warning("order %s: not read back after its rest cancel: %s", state.client_order_id, exc)
    except xerr.ExchangeError as exc:
        log.warning("order %s: its rest was not cancelled: %s", state.client_order_id, exc)
    return state


async def _fills_of(exchange: Exchange, state: OrderState) -> list[FillValue]:
    if not state.executed_quantity:
        return []
    return list(await exchange.my_trades(state.symbol, order_id=state.order_id))


def _order_mark(row: Order, *, status: str | None = None, error: str = "") -> Order:
    with transaction.atomic():
        if status:
            row.status = status
        row.error = error
        row.save(update_fields=["status", "error", "updated"])
        realtime.order_changed(row)
    return row


def order_record(row: Order, state: OrderState, fills: Sequence[FillValue] = ()) -> Order:
    """Copy the exchange's view of an order (and any fills) onto our row, then refresh balances."""
    was_filled = row.status == Order.Status.FILLED
    if row.mode == Mode.LIVE:  # the user-data stream may have recorded (and announced) it meanwhile
        was_filled = Order.objects.filter(pk=row.pk, status=Order.Status.FILLED).exists()
    with transaction.atomic():
        # One conditional UPDATE: the user-data stream may have advanced the row meanwhile, and the
        # exchange's answer must never move it back.
        order_state_write(
            row.pk,
            status=state.status.value,
            executed=state.executed_quantity,
            exchange_order_id=state.order_id,
            cummulative_quote_qty=state.cumulative_quote_quantity,
            avg_price=state.average_price,
            error="",
        )
        row.refresh_from_db()
        fills_store(row, fills)
        realtime.order_changed(row)
        if not was_filled:
            transaction.on_commit(lambda: order_filled_notify(row), robust=True)
    if row.mode == Mode.LIVE:
        if not userstream_alive(row.user_id):  # else the stream's account channel reports them
            balances_sync(user_id=row.user_id)
    else:
        realtime.balance_changed(row.user_id, row.mode)
    return row


def _order_for_user(user: User, order_id: int) -> Order:
    row = Order.objects.filter(user=user, pk=order_id).first()
    if row is None:
        raise NotFound("No such order")
    return row


def order_refresh(*, user: User, order_id: int) -> Order:
    """The order's current state from its exchange (for polling and after a crash)."""
    return _order_sync(_order_for_user(user, order_id))


def _order_sync(row: Order, *, grace: timedelta = PENDING_GRACE) -> Order:
    async def fetch(exchange: Exchange) -> tuple[OrderState, list[FillValue]]:
        state = await exchange.get_order(row.symbol, client_order_id=row.client_order_id)
        return state, await _fills_of(exchange, state)

    try:
        state, fills = run(exchange_builder(row.user_id, row.mode), fetch)
    except xerr.UnknownOrder:
        if row.status == Order.Status.PENDING and timezone.now() - row.created >= grace:
            return _order_mark(
                row, status=Order.Status.REJECTED, error="The order never reached the exchange"
            )
        return row
    except xerr.ExchangeError as exc:
        log.warning("order %s not refreshed: %s", row.client_order_id, exc)
        return row
    return order_record(row, state, fills)


def order_cancel(*, user: User, order_id: int) -> Order:
    row = _order_for_user(user, order_id)
    if not row.is_open:
        raise Conflict(f"The order is already {row.get_status_display().lower()}")
    if not user.can_trade:
        raise Forbidden("Your role lets you view the market but not trade")

    async def cancel(exchange: Exchange) -> OrderState:
        return await exchange.cancel_order(row.symbol, client_order_id=row.client_order_id)

    try:
        state = run(exchange_builder(row.user_id, row.mode), cancel)
    except xerr.UnknownOrder:
        return _order_sync(row, grace=timedelta(0))
    except xerr.ExchangeError as exc:
        raise exchange_refusal(exc) from None
    if row.mode == Mode.PAPER:  # the paper store has written the cancel, row and balances at once
        row.refresh_from_db()
        _order_announce(row)
        return row
    return order_record(row, state)


def order_cancel_all(*, user: User, symbol: str | None = None) -> list[Order]:
    """Cancel every open order of the user's current account (on one symbol, or all). A symbol that
    is not a MEXC spot symbol is refused (404 `unknown_symbol`, as order_place refuses it) rather than
    answered "0 cancelled", which reads as success for a typo."""
    account = trading_account_get_or_create(user=user)
    rows = Order.objects.filter(user=user, mode=account.mode, status__in=Order.OPEN_STATUSES)
    if symbol:
        if not Symbol.objects.filter(symbol=symbol.upper()).exists():
            raise refuse("unknown_symbol", f"{symbol.upper()} is not a MEXC spot symbol", 404)
        rows = rows.filter(symbol=symbol.upper())
    if account.mode == Mode.PAPER:
        return _paper_cancel_all(user, list(rows.order_by("created")))
    done = []
    for row in rows.order_by("created"):
        try:
            done.append(order_cancel(user=user, order_id=row.pk))
        except Conflict:
            continue
    return done


def _paper_cancel_all(user: User, rows: list[Order]) -> list[Order]:
    """One paper exchange for the whole batch; each cancel is its own short write transaction, so
    an order that filled or was cancelled meanwhile is skipped rather than failing the rest."""
    if not user.can_trade:
        raise Forbidden("Your role lets you view the market but not trade")

    async def cancel(exchange: Exchange) -> list[str]:
        cancelled = []
        for row in rows:
            try:
                await exchange.cancel_order(row.symbol, client_order_id=row.client_order_id)
            except (xerr.UnknownOrder, OrderChanged):
                continue
            cancelled.append(row.client_order_id)
        return cancelled

    cancelled = run(paper_builder(user.pk), cancel)
    done = list(Order.objects.filter(user=user, client_order_id__in=cancelled).order_by("created"))
    for row in done:
        realtime.order_changed(row)
    if done:
        realtime.balance_changed(user.pk, Mode.PAPER)
    return done


def orders_reconcile(*, user: User | None = None, grace: timedelta = PENDING_GRACE) -> int:
    """After a restart: ask the exchange about every PENDING/open order by client id and fix our rows.
    A PENDING order the exchange never saw (and older than `grace`) becomes REJECTED. Returns how many
    rows changed."""
    rows = Order.objects.filter(status__in=Order.OPEN_STATUSES)
    # A paper order's row is the paper exchange's own record, written with its fills in one
    # transaction: only a PENDING one (left by an older version) can need settling.
    rows = rows.exclude(mode=Mode.PAPER, status__in=[Order.Status.NEW, Order.Status.PARTIALLY_FILLED])
    if user is not None:
        rows = rows.filter(user=user)
    changed = 0
    for row in rows.order_by("created"):
        before = (row.status, row.executed_qty)
        if row.mode == Mode.LIVE and not ApiCredential.objects.filter(user_id=row.user_id).exists():
            continue
        after = _order_sync(row, grace=grace)
        changed += (after.status, after.executed_qty) != before
    return changed


# ---- paper matching -------------------------------------------------------------------------------


def paper_orders_match(
    *, symbol: str | None = None, book: OrderBook | None = None, trades: Sequence[Trade] = ()
) -> int:
    """Fill resting paper orders the market has crossed. The market feed can pass the book and
    trades it already has (they then limit the run to their symbol); otherwise the book is fetched
    per account and symbol. Returns how many orders changed."""
    if book is not None:
        symbol = book.symbol
    rows = Order.objects.filter(mode=Mode.PAPER, status__in=(Order.Status.NEW, Order.Status.PARTIALLY_FILLED))
    if symbol:
        rows = rows.filter(symbol=symbol)
    pairs = sorted(set(rows.values_list("user_id", "symbol")))
    changed = 0
    for user_id, sym in pairs:

        async def match(exchange: Exchange, sym: str = sym) -> list[OrderState]:
            assert isinstance(exchange, PaperExchange)
            return await exchange.match(sym, book=book, trades=trades)

        states = run(paper_builder(user_id), match)
        for state in states:
            _order_announce(Order.objects.get(client_order_id=state.client_order_id))
        changed += len(states)
    return changed
