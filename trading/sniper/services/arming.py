"""Arming a listing before its open, and the bookkeeping after the armed orders were sent.

Arming (a few seconds to a minute before the open, `SNIPER_ARM_LEAD_S`): each enabled rule on the
listing gets its firing claimed (unique `claim_key`, so a restart or a second process re-arms the
same firing, never a second one), is checked against the user's free balance and, when it is armed
as a live order, the user's risk limits (both summed over the user's rules on this listing), and
gets its PENDING Order row written with the client order id every attempt will carry
(`snf<firing>a1`). The result is a plain `ArmPlan` whose
live orders carry everything the wire needs to pre-build the request; paper accounts and limit rules
without a max price (which need the book at the open) are carried as slow firings, run through
`firing_execute` after the signal.

A rule with a max price buys with a LIMIT order at that price (immediate-or-cancel or resting, as the
rule says): the cap holds on every fill, however thin the book. Without one, a MARKET buy by quote
amount spends at most the rule's amount.

An immediate-or-cancel rule on a symbol that lists no IOC orders (every MEXC spot symbol) buys with
a plain LIMIT whose rest is cancelled the moment the exchange accepts it: its armed order carries the
cancel's parameters, the runner pre-signs the DELETE beside the order and the volley sends it on the
acceptance (volley.py).

After the send, `volley_record` writes what happened: the accepted order read back from the exchange
with its fills (its rest cancelled here only if the read-back still shows it open: the volley's
cancel did not land), the firing's timeline, positions with their protection, notifications.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.notifications.services import notification_send
from config.errors import BruteError
from trading import crypto
from trading import services as trading
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.mexc_rest import cancel_params, order_params
from trading.exchange.types import Fill as FillValue
from trading.exchange.types import OrderRequest, OrderState, OrderType, Side
from trading.exchanges import exchange_builder, run
from trading.models import ApiCredential, Balance, Mode, Order, Symbol, TradingAccount
from trading.services.accounts import live_refusal, trading_account_get_or_create
from trading.services.risk import risk_check
from trading.sniper.models import Listing, Rule, RuleFiring
from trading.sniper.services.common import (
    rule_cancels_rest,
    rule_cap_order,
    rule_limit_buy,
    rule_quote_amount,
)
from trading.sniper.services.listings import listing_transition, symbol_refresh
from trading.sniper.services.positions import positions_sync
from trading.sniper.services.rules import (
    firing_execute,
    firing_fail,
    firing_order_story,
    firing_rest_cancel,
    firing_title,
    rules_for_listing,
)

log = logging.getLogger(__name__)
Status = RuleFiring.Status
MARKET_DISABLED = 30051


def arm_lead() -> timedelta:
    return timedelta(seconds=settings.SNIPER_ARM_LEAD_S)


@dataclass(frozen=True)
class ArmedOrder:
    """What the wire needs to pre-build one signed order request (secrets stay in memory only)."""

    firing_id: int
    user_id: int
    client_order_id: str
    api_key: str
    api_secret: str
    params: tuple[tuple[str, str], ...]
    # The cancel of the order's unfilled rest (DELETE /api/v3/order), pre-signed beside the order and
    # sent as soon as it is accepted; empty when the rest may rest (market, resting limit).
    cancel_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ArmPlan:
    listing_id: int
    symbol: str
    # The announced open on the exchange's clock, epoch ms; None when unknown (fire on a signal).
    open_ms: int | None
    orders: tuple[ArmedOrder, ...] = ()
    # Firings run through `firing_execute` after the signal: paper accounts, limits without a cap.
    slow_firings: tuple[int, ...] = ()
    refused: int = 0


def listings_to_arm(*, now: datetime | None = None) -> list[Listing]:
    """Not trading yet, and either opening within the arm lead (or just past it) or listed with no
    known time (those are armed to fire on the first signal)."""
    now = now or timezone.now()
    near = Q(expected_open__lte=now + arm_lead(), expected_open__gte=now - timedelta(minutes=2))
    waiting = Q(state=Listing.State.LISTED, expected_open__isnull=True)
    return list(
        Listing.objects.filter(near | waiting)
        .exclude(state__in=[Listing.State.TRADING, Listing.State.FAILED])
        .order_by("expected_open", "pk")
    )


# ---- arming -------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, reason: str, *, risk: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.risk = reason, risk


@dataclass
class _Arming:
    listing: Listing
    symbol: Symbol
    owner: str
    # Quote amounts already armed per user on this listing: the balance and exposure checks add up.
    committed: dict[int, Decimal] = field(default_factory=dict)
    credentials: dict[int, tuple[str, str]] = field(default_factory=dict)
    orders: list[ArmedOrder] = field(default_factory=list)
    slow: list[int] = field(default_factory=list)
    refused: int = 0


def listing_arm(*, listing: Listing, owner: str) -> ArmPlan | None:
    """Arm every enabled rule on `listing` (idempotent: armed firings are taken over, not duplicated).
    None while the exchange does not list the symbol yet (its precisions are needed)."""
    symbol = Symbol.objects.filter(symbol=listing.symbol).first() or symbol_refresh(symbol=listing.symbol)
    if symbol is None:
        return None
    state = _Arming(listing=listing, symbol=symbol, owner=owner)
    existing = {
        f.rule_id: f for f in RuleFiring.objects.filter(listing=listing, action=RuleFiring.Action.BUY)
    }
    rules = rules_for_listing(listing)
    # Taking over may ask the exchange: before, and outside, the one write transaction below.
    for rule in rules:
        firing = existing.get(rule.pk)
        if firing is not None and firing.status == Status.ARMED:
            _arm_again(state, firing)
    fresh = [rule for rule in rules if rule.pk not in existing]
    _balances_known(fresh, symbol.quote_asset)
    # One commit for the whole listing (each rule in its own savepoint): arming 100 rules is one
    # write transaction, not 100.
    with transaction.atomic():
        for rule in fresh:
            _arm_new(state, rule)
    opens = listing.expected_open
    return ArmPlan(
        listing_id=listing.pk,
        symbol=listing.symbol,
        open_ms=int(opens.timestamp() * 1000) if opens else None,
        orders=tuple(state.orders),
        slow_firings=tuple(state.slow),
        refused=state.refused,
    )


def _arm_new(state: _Arming, rule: Rule) -> None:
    user = rule.user
    mode = trading_account_get_or_create(user=user).mode
    key = f"r{rule.pk}l{state.listing.pk}"
    try:
        args = armed_order_args(rule=rule, symbol=state.symbol)
        if mode == Mode.LIVE and (problem := live_refusal(user)) is not None:
            raise _Refused(problem.message)
        spend = state.committed.get(user.pk, Decimal(0)) + rule.amount
        slow = args is None or mode != Mode.LIVE
        if not slow:  # an armed order skips `order_place`: this is its one risk check (a slow one's is there)
            _check_risk(user, state.symbol.symbol, spend)
        _check_balance(user, mode, state.symbol.quote_asset, spend)
    except _Refused as exc:
        _arm_refused(state, rule, key, exc)
        return
    state.committed[user.pk] = spend
    now = timezone.now()
    try:
        with transaction.atomic():
            firing = RuleFiring.objects.create(
                rule=rule, listing=state.listing, symbol=state.symbol.symbol, claim_key=key,
                action=RuleFiring.Action.BUY, status=Status.ARMED, attempts=0 if slow else 1,
                reason=f"{state.symbol.symbol} armed for its open", open_at=state.listing.expected_open,
                armed_at=now, detected_at=now, lease_owner=state.owner,
                order_type=(args or {}).get("type", rule.order_type), limit_price=(args or {}).get("price"),
            )  # fmt: skip
            if not slow:
                assert args is not None
                Order.objects.create(
                    user=user, mode=mode, symbol=state.symbol.symbol, side=Order.Side.BUY,
                    client_order_id=firing.client_order_id(1), source=Order.Source.RULE, **args,
                )  # fmt: skip
    except IntegrityError:
        return  # another process armed it a moment ago; it is taken over on the next pass
    if slow:
        state.slow.append(firing.pk)
    else:
        state.orders.append(_armed_order(state, firing, user, args or {}))


def _arm_again(state: _Arming, firing: RuleFiring) -> None:
    """An ARMED firing from an earlier pass or an earlier process. A process that died may have sent
    it already, so before taking it over the exchange is asked about its client order id."""
    row = Order.objects.filter(client_order_id=firing.client_order_id(1)).first()
    if row is None or row.mode != Mode.LIVE:
        if firing.lease_owner != state.owner:
            RuleFiring.objects.filter(pk=firing.pk, status=Status.ARMED).update(lease_owner=state.owner)
        state.slow.append(firing.pk)
        return
    if firing.lease_owner != state.owner:
        try:
            found = _exchange_order(row)
        except xerr.ExchangeError as exc:
            log.warning("armed firing %s not taken over yet: %s", firing.pk, exc)
            return
        if found is not None:
            _accepted_elsewhere(firing, row, *found)
            return
        if not RuleFiring.objects.filter(
            pk=firing.pk, status=Status.ARMED, lease_owner=firing.lease_owner
        ).update(lease_owner=state.owner):
            return
    args = {
        "type": row.type,
        "quantity": row.quantity,
        "quote_quantity": row.quote_quantity,
        "price": row.price,
    }
    state.committed[row.user_id] = state.committed.get(row.user_id, Decimal(0)) + firing.rule.amount
    state.orders.append(_armed_order(state, firing, firing.rule.user, args))


def _exchange_order(row: Order) -> tuple[OrderState, list[FillValue]] | None:
    async def fetch(exchange: Exchange) -> tuple[OrderState, list[FillValue]] | None:
        try:
            state = await exchange.get_order(row.symbol, client_order_id=row.client_order_id)
        except xerr.UnknownOrder:
            return None
        fills = (
            await exchange.my_trades(row.symbol, order_id=state.order_id) if state.executed_quantity else []
        )
        return state, list(fills)

    return run(exchange_builder(row.user_id, row.mode), fetch)


def _accepted_elsewhere(firing: RuleFiring, row: Order, state: OrderState, fills: list[FillValue]) -> None:
    trading.order_record(row, state, fills)
    RuleFiring.objects.filter(pk=firing.pk).update(
        status=Status.PLACING, lease_owner="", lease_until=timezone.now()
    )
    firing_execute(firing_id=firing.pk)


def _armed_order(state: _Arming, firing: RuleFiring, user: User, args: dict[str, Any]) -> ArmedOrder:
    if user.pk not in state.credentials:
        credential = ApiCredential.objects.get(user=user)
        state.credentials[user.pk] = (
            crypto.decrypt(credential.api_key_encrypted),
            crypto.decrypt(credential.api_secret_encrypted),
        )
    api_key, api_secret = state.credentials[user.pk]
    request = OrderRequest(
        symbol=state.symbol.symbol,
        side=Side.BUY,
        type=OrderType(args["type"]),
        client_order_id=firing.client_order_id(1),
        quantity=args.get("quantity"),
        quote_quantity=args.get("quote_quantity"),
        price=args.get("price"),
    )
    cancels = rule_cancels_rest(firing.rule, request.type.value)
    return ArmedOrder(
        firing_id=firing.pk,
        user_id=user.pk,
        client_order_id=request.client_order_id,
        api_key=api_key,
        api_secret=api_secret,
        params=tuple(order_params(request)),
        cancel_params=tuple(cancel_params(request.symbol, request.client_order_id)) if cancels else (),
    )


def armed_order_args(*, rule: Rule, symbol: Symbol) -> dict[str, Any] | None:
    """The order a rule sends at the open, or None when it needs the book first (a limit rule with no
    max price prices itself off the best ask, after the open). Raises _Refused when it cannot buy."""
    if rule.max_price is not None:
        price, qty = rule_limit_buy(rule, symbol, rule.max_price)
        if qty <= 0 or qty < symbol.min_quantity:
            raise _Refused(
                f"{rule.amount.normalize():f} buys less than the minimum quantity at the max price"
            )
        if price * qty < symbol.min_notional:
            raise _Refused(
                f"The order value is below {symbol.symbol}'s minimum of {symbol.min_notional.normalize():f}"
            )
        return {"type": rule_cap_order(rule, symbol), "price": price, "quantity": qty}
    if rule.order_type == Rule.OrderType.LIMIT:
        return None
    quote = rule_quote_amount(rule, symbol)
    if quote < symbol.min_notional_market:
        raise _Refused(
            f"{quote.normalize():f} is below {symbol.symbol}'s minimum market order of "
            f"{symbol.min_notional_market.normalize():f}"
        )
    return {"type": "MARKET", "quote_quantity": quote}


def _check_risk(user: User, symbol: str, spend: Decimal) -> None:
    try:
        risk_check(user=user, symbol=symbol, side="BUY", notional=spend)
    except BruteError as exc:
        raise _Refused(exc.message, risk=True) from None


def _balances_known(rules: list[Rule], asset: str) -> None:
    """Live users with no balance of `asset` on record get theirs read from the exchange first."""
    users = {rule.user_id for rule in rules}
    live = TradingAccount.objects.filter(user_id__in=users, mode=Mode.LIVE).values_list("user_id", flat=True)
    known = Balance.objects.filter(user_id__in=live, mode=Mode.LIVE, asset=asset).values_list(
        "user_id", flat=True
    )
    for user_id in sorted(set(live) - set(known)):
        trading.balances_sync(user_id=user_id)


def _check_balance(user: User, mode: str, asset: str, spend: Decimal) -> None:
    row = Balance.objects.filter(user=user, mode=mode, asset=asset).first()
    free = row.free if row is not None else Decimal(0)
    if free < spend:
        raise _Refused(
            f"Not enough {asset}: {free.normalize():f} free, {spend.normalize():f} needed by your armed rules"
        )


def _arm_refused(state: _Arming, rule: Rule, key: str, exc: _Refused) -> None:
    try:
        with transaction.atomic():
            RuleFiring.objects.create(
                rule=rule, listing=state.listing, symbol=state.symbol.symbol, claim_key=key,
                action=RuleFiring.Action.REFUSED, status=Status.FAILED, finished_at=timezone.now(),
                reason=f"not armed for {state.symbol.symbol}: {exc.reason}",
            )  # fmt: skip
            notification_send(
                user=rule.user,
                kind="risk_refused" if exc.risk else "rule_fired",
                title=f"Rule will not buy {state.symbol.symbol}",
                body=f"{rule}: {exc.reason}",
                data={"rule": rule.pk, "listing": state.listing.pk},
                level="warning",
            )
    except IntegrityError:
        return
    state.refused += 1


# ---- after the send -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShotResult:
    """What the volley saw for one armed order (plain values; times are local epoch seconds)."""

    firing_id: int
    state: str
    signal: str
    attempts: int
    not_open: int
    sent: float | None
    answered: float | None
    status: int | None
    code: int | None
    message: str
    exchange_order_id: str
    # The rest cancel sent on acceptance (volley.py's REST_* outcomes; "" when none was asked), the
    # order's status in the exchange's answer to it, and the exchange's message.
    rest_cancel: str = ""
    rest_status: str = ""
    rest_message: str = ""


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def volley_record(*, listing_id: int, results: list[ShotResult]) -> None:
    """Record each settled armed order: accepted ones read back with their fills (positions and their
    protection follow), refused ones closed with the reason, unknown ones left to `firing_execute`,
    which asks the exchange by client order id before anything is re-sent."""
    listing = Listing.objects.filter(pk=listing_id).first()
    if listing is not None and any(r.state == "accepted" for r in results):
        # The exchange took orders: it trades. Its Symbol row follows (exits and the order form check it).
        symbol_refresh(symbol=listing.symbol)
        listing_transition(listing=listing, to=Listing.State.TRADING, detail="armed orders accepted")
    slow = []
    for result in results:
        firing = RuleFiring.objects.select_related("rule__user").filter(pk=result.firing_id).first()
        if firing is None or firing.status != Status.ARMED:
            continue
        timeline = {"sent_at": _dt(result.sent), "accepted_at": None, "signal": result.signal[:12]}
        row = Order.objects.filter(client_order_id=firing.client_order_id(1)).first()
        if result.state == "accepted" and row is not None:
            timeline["accepted_at"] = _dt(result.answered)
            _record_accepted(firing, row, result, timeline)
        elif result.state == "refused" and row is not None:
            slow += _record_refused(firing, row, result, timeline)
        else:
            RuleFiring.objects.filter(pk=firing.pk).update(
                status=Status.PLACING, lease_owner="", lease_until=timezone.now(), **timeline
            )
            slow.append(firing.pk)
    positions_sync()
    for firing_id in slow:
        firing_execute(firing_id=firing_id)


def _record_accepted(firing: RuleFiring, row: Order, result: ShotResult, timeline: dict[str, Any]) -> None:
    with transaction.atomic():
        row.exchange_order_id = result.exchange_order_id
        row.status = Order.Status.NEW
        row.error = ""
        row.save(update_fields=["exchange_order_id", "status", "error", "updated"])
    user = firing.rule.user
    # Read back first: the volley's own cancel has normally closed the rest already; only a rest the
    # exchange still shows open (that cancel unsent, unanswered or refused) is cancelled now, so a
    # closed order is never cancelled twice.
    row = trading.order_refresh(user=user, order_id=row.pk)
    if row.is_open and rule_cancels_rest(firing.rule, row.type):
        log.warning(
            "armed order %s: its rest is still open after the volley's cancel (%s: %s); cancelling it",
            row.client_order_id,
            result.rest_cancel or "not sent",
            result.rest_message,
        )
        firing_rest_cancel(rule=firing.rule, order=row)
        row = trading.order_refresh(user=user, order_id=row.pk)
    fills = list(row.fills.order_by("-time")[:1]) if row.status == Order.Status.FILLED else []
    now = timezone.now()
    with transaction.atomic():
        RuleFiring.objects.filter(pk=firing.pk).update(
            status=Status.DONE, order=row, finished_at=now, lease_owner="", attempts=1,
            filled_at=fills[0].time if fills else None, **timeline,
        )  # fmt: skip
        Rule.objects.filter(pk=firing.rule_id).update(last_fired_at=now)
        notification_send(
            user=firing.rule.user,
            kind="rule_fired",
            title=firing_title(symbol=firing.symbol, order=row),
            body=f"{firing.rule}: armed for the open, sent {firing_order_story(rule=firing.rule, order=row)}",
            data={"rule": firing.rule_id, "firing": firing.pk, "order": row.pk},
            level="success",
        )


def _record_refused(
    firing: RuleFiring, row: Order, result: ShotResult, timeline: dict[str, Any]
) -> list[int]:
    reason = f"refused by MEXC ({result.code}): {result.message}"
    with transaction.atomic():
        row.status, row.error = Order.Status.REJECTED, reason
        row.save(update_fields=["status", "error", "updated"])
        if result.code == MARKET_DISABLED and row.type == Order.Type.MARKET:
            # API market orders are off for this pair: a bounded LIMIT through the slow path instead.
            RuleFiring.objects.filter(pk=firing.pk).update(
                status=Status.CLAIMED, order_type=Rule.OrderType.LIMIT, detected_at=timezone.now(), **timeline
            )
            return [firing.pk]
        refused = RuleFiring.Action.REFUSED
        firing_fail(firing=firing, reason=reason, action=refused, lease_owner="", **timeline)
    return []


def slow_firings_start(*, firing_ids: list[int]) -> None:
    """The signal came: firings that could not be pre-built run the ordinary way now."""
    now = timezone.now()
    for firing_id in firing_ids:
        if RuleFiring.objects.filter(pk=firing_id, status=Status.ARMED).update(
            status=Status.CLAIMED, detected_at=now, lease_owner=""
        ):
            firing_execute(firing_id=firing_id)
