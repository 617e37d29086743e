"""Auto-buy rules: saving them, deciding when they fire, and the sniper's bounded order attempts.

Why a rule never spends more than its amount, whatever the retries, restarts or duplicate events:
- a buy is claimed once: one RuleFiring per (rule, listing) through its unique `claim_key` (market
  triggers: a conditional UPDATE of the rule's `last_fired_at` enforces the cooldown first);
- one executor at a time holds the firing (a lease taken and renewed by conditional UPDATEs);
- attempt n sends client order id `snf<firing>a<n>`; `order_place` returns the existing order for a
  known id, so a replayed attempt is never a second order;
- a new attempt is made only when every earlier one is known REJECTED; an attempt whose outcome is
  unknown (PENDING) is refreshed from the exchange first, and while it stays unknown nothing is sent.
Each attempt spends at most the amount, and at most one attempt is ever alive.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.notifications.services import notification_send
from config import metrics
from config.errors import BruteError, Conflict
from trading import formatting
from trading import services as trading
from trading.models import Order, Symbol
from trading.services.risk import RISK_CODE
from trading.sniper import prices
from trading.sniper.models import Listing, Rule, RuleFiring
from trading.sniper.services.common import (
    rule_cancels_rest,
    rule_cap_order,
    rule_is_ioc,
    rule_limit_buy,
    rule_quote_amount,
    slippage,
    take_profit_clean,
)
from trading.sniper.services.listings import symbol_refresh
from trading.sniper.services.positions import positions_sync

log = logging.getLogger(__name__)
Status = RuleFiring.Status
LEASE = timedelta(seconds=30)
NOT_OPEN_CODES = {"api_trading_disabled", "symbol_not_trading"}


def retry_window() -> timedelta:
    return timedelta(seconds=settings.SNIPER_RETRY_S)


def retry_interval() -> float:
    return settings.SNIPER_RETRY_INTERVAL_MS / 1000


# ---- saving rules ---------------------------------------------------------------------------------


def rule_save(*, user: User, rule: Rule | None = None, **fields: Any) -> Rule:
    rule = rule or Rule(user=user)
    if rule.user_id != user.pk:
        raise Conflict("Not your rule")
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.symbol = "" if rule.any_new_listing else rule.symbol.strip().upper()
    rule.take_profit = take_profit_clean(rule.take_profit)
    errors: dict[str, str] = {}
    if rule.any_new_listing and rule.trigger != Rule.Trigger.LISTING_OPENS:
        errors["trigger"] = "A rule on any new listing fires when the listing opens"
    if not rule.any_new_listing and not rule.symbol:
        errors["symbol"] = "Choose a symbol, or any new listing"
    if rule.trigger != Rule.Trigger.LISTING_OPENS and not rule.trigger_value:
        errors["trigger_value"] = "This trigger needs a value (a price, a percent or a volume multiple)"
    if errors:
        raise ValidationError(errors)
    rule.full_clean(exclude=["user"])
    rule.save()
    return rule


def rule_delete(*, rule: Rule) -> None:
    """Disable and hide the rule; its firings (and the orders they placed) stay in the history."""
    Rule.objects.filter(pk=rule.pk).update(enabled=False, deleted_at=timezone.now())


# ---- claiming -------------------------------------------------------------------------------------


def rules_for_listing(listing: Listing) -> list[Rule]:
    return list(
        Rule.objects.filter(enabled=True, trigger=Rule.Trigger.LISTING_OPENS)
        .filter(Q(any_new_listing=True) | Q(symbol=listing.symbol))
        .select_related("user")
        .order_by("pk")
    )


def firing_log(*, rule: Rule, symbol: str, action: str, reason: str, listing: Listing | None = None) -> None:
    RuleFiring.objects.create(
        rule=rule, listing=listing, symbol=symbol, action=action, status=Status.DONE, reason=reason
    )


def listing_claim(*, listing: Listing, detected_at: datetime | None = None) -> list[RuleFiring]:
    """Claim one buy per rule for an opened listing; a rule already claimed for it logs a duplicate."""
    claimed = []
    for rule in rules_for_listing(listing):
        key = f"r{rule.pk}l{listing.pk}"
        try:
            with transaction.atomic():
                firing = RuleFiring.objects.create(
                    rule=rule,
                    listing=listing,
                    symbol=listing.symbol,
                    claim_key=key,
                    action=RuleFiring.Action.BUY,
                    status=Status.CLAIMED,
                    reason=f"{listing.symbol} opened for trading",
                    detected_at=detected_at or timezone.now(),
                )
        except IntegrityError:
            firing_log(
                rule=rule,
                listing=listing,
                symbol=listing.symbol,
                action=RuleFiring.Action.DUPLICATE,
                reason="another open event already claimed this rule for this listing",
            )
            continue
        claimed.append(firing)
    return claimed


def listing_fire(*, listing: Listing, detected_at: datetime | None = None) -> list[RuleFiring]:
    """Claim and execute (one after another) every rule on this listing's open."""
    return [firing_execute(firing_id=f.pk) for f in listing_claim(listing=listing, detected_at=detected_at)]


def rule_claim_market(*, rule: Rule, reason: str, now: datetime | None = None) -> RuleFiring | None:
    """A market trigger fired: claim it unless the rule is still cooling down (conditional UPDATE)."""
    now = now or timezone.now()
    cooled = Q(last_fired_at__isnull=True) | Q(
        last_fired_at__lte=now - timedelta(seconds=rule.cooldown_seconds)
    )
    with transaction.atomic():
        if not Rule.objects.filter(cooled, pk=rule.pk, enabled=True).update(last_fired_at=now):
            return None
        return RuleFiring.objects.create(
            rule=rule,
            symbol=rule.symbol,
            claim_key=f"r{rule.pk}t{int(now.timestamp() * 1000)}",
            action=RuleFiring.Action.BUY,
            status=Status.CLAIMED,
            reason=reason,
            detected_at=now,
        )


# ---- executing ------------------------------------------------------------------------------------


class _NotOpen(Exception):
    """The symbol is not open to API orders yet (locally known, or refused by the exchange)."""


class _Retry(_NotOpen):
    """Try again at once with the changed plan (no wait)."""


class _Stop(Exception):
    def __init__(self, reason: str, action: str = RuleFiring.Action.BUY) -> None:
        super().__init__(reason)
        self.reason, self.action = reason, action


@dataclass
class _Plan:
    type: str
    fallback: bool = False


def _lease(firing: RuleFiring, owner: str) -> bool:
    now = timezone.now()
    free = (
        Q(status=Status.CLAIMED)
        | Q(status=Status.PLACING, lease_owner=owner)
        | Q(status=Status.PLACING, lease_until__lt=now)
    )
    return bool(
        RuleFiring.objects.filter(free, pk=firing.pk).update(
            status=Status.PLACING, lease_owner=owner, lease_until=now + LEASE
        )
    )


def firing_execute(*, firing_id: int, max_attempts: int | None = None) -> RuleFiring:
    """Run a claimed firing's attempts until an order is placed, a refusal ends it or the retry window
    closes. Safe to call again (after a restart, or twice at once): see the module docstring.
    `max_attempts` stops early with the firing still PLACING, as a crash would (for tests)."""
    firing = RuleFiring.objects.select_related("rule__user").get(pk=firing_id)
    owner = uuid.uuid4().hex
    if firing.status in (Status.DONE, Status.FAILED) or not _lease(firing, owner):
        return firing
    plan = _Plan(type=firing.order_type or firing.rule.order_type)
    deadline = firing.detected_at + retry_window()
    last_refresh = 0.0
    tries = 0
    while True:
        settled = _earlier_attempts(firing)
        if settled is not None:
            return _finish(firing, settled) if settled.status != Order.Status.PENDING else firing
        if max_attempts is not None and tries >= max_attempts:
            firing.refresh_from_db()
            return firing
        tries += 1
        try:
            order = _attempt(firing, owner, plan)
        except _Retry:
            continue
        except _NotOpen:
            if timezone.now() >= deadline:
                reason = f"{firing.symbol} did not open to API orders within the retry window"
                return firing_fail(firing=firing, reason=reason)
            if time.monotonic() - last_refresh > 0.3:
                symbol_refresh(symbol=firing.symbol)
                last_refresh = time.monotonic()
            time.sleep(retry_interval())
            continue
        except _Stop as stop:
            return firing_fail(firing=firing, reason=stop.reason, action=stop.action)
        if order is None:  # lost the lease: another executor has it
            firing.refresh_from_db()
            return firing
        if order.status == Order.Status.REJECTED:
            continue
        metrics.sniper_firing("detected_to_placed", (timezone.now() - firing.detected_at).total_seconds())
        return _finish(firing, order)


def _earlier_attempts(firing: RuleFiring) -> Order | None:
    """The one attempt that is not REJECTED, refreshed if its outcome is unknown; None if all failed."""
    alive = (
        Order.objects.filter(client_order_id__startswith=firing.client_order_prefix)
        .exclude(status=Order.Status.REJECTED)
        .order_by("created")
        .first()
    )
    if alive is not None and alive.status == Order.Status.PENDING:
        alive = trading.order_refresh(user=firing.rule.user, order_id=alive.pk)
        if alive.status == Order.Status.REJECTED:
            return None
    return alive


def _attempt(firing: RuleFiring, owner: str, plan: _Plan) -> Order | None:
    rule = firing.rule
    symbol = Symbol.objects.filter(symbol=firing.symbol).first()
    if symbol is None or not (symbol.is_trading and symbol.api_allowed):
        raise _NotOpen
    order_args = _order_args(rule, symbol, plan)
    attempt = firing.attempts + 1
    now = timezone.now()
    # The lease is renewed with the attempt count: a stale executor stops here, before sending.
    if not RuleFiring.objects.filter(pk=firing.pk, lease_owner=owner, attempts=firing.attempts).update(
        attempts=attempt, lease_until=now + LEASE, order_type=plan.type, limit_price=order_args.get("price")
    ):
        return None
    firing.attempts = attempt
    sent = timezone.now()
    try:
        order = trading.order_place(
            user=rule.user,
            symbol=symbol.symbol,
            side="BUY",
            source=Order.Source.RULE,
            client_order_id=firing.client_order_id(attempt),
            cancel_rest=rule_cancels_rest(rule, order_args["type"]),
            **order_args,
        )
    except Conflict:
        return None
    except BruteError as exc:
        return _refused(exc, plan, rule)
    if order.status != Order.Status.REJECTED:  # the timeline: when it left, when the exchange took it
        accepted = timezone.now() if order.status != Order.Status.PENDING else None
        RuleFiring.objects.filter(pk=firing.pk).update(sent_at=sent, accepted_at=accepted)
    return order


def _refused(exc: BruteError, plan: _Plan, rule: Rule) -> Order | None:
    if exc.code == "order_type_not_allowed" and plan.type == Rule.OrderType.MARKET:
        plan.type, plan.fallback = Rule.OrderType.LIMIT, True  # 30051: a bounded limit instead
        raise _Retry
    if exc.code in NOT_OPEN_CODES:
        raise _NotOpen
    if exc.code == RISK_CODE:  # `order_place` checked the user's limits: the one risk check of a rule's buy
        _notify_risk(rule, exc)
        raise _Stop(exc.message, RuleFiring.Action.REFUSED)
    raise _Stop(f"refused: {exc.message}", RuleFiring.Action.REFUSED)


def _order_args(rule: Rule, symbol: Symbol, plan: _Plan) -> dict[str, Any]:
    if rule.max_price is not None:
        return _capped_args(rule, symbol, rule.max_price)
    if plan.type == Rule.OrderType.MARKET:
        return {"type": "MARKET", "quote_quantity": rule_quote_amount(rule, symbol)}
    return _limit_args(rule, symbol, "LIMIT", _best_ask(symbol) * (1 + slippage()))


def _capped_args(rule: Rule, symbol: Symbol, cap: Decimal) -> dict[str, Any]:
    """A max price is a hard cap: a LIMIT at it, never a market order, which would walk a thin book
    past the cap. A resting one waits for sellers whatever the ask; an immediate one fills nothing
    above the cap, so an ask above it ends the firing with the reason."""
    if rule_is_ioc(rule):
        ask = _best_ask(symbol)
        if ask > cap:
            raise _Stop(f"best ask {ask.normalize():f} is above the rule's max price {cap.normalize():f}")
    return _limit_args(rule, symbol, rule_cap_order(rule, symbol), cap)


def _best_ask(symbol: Symbol) -> Decimal:
    book = prices.book_fetch(symbol.symbol)
    if book is None or book.best_ask is None:
        raise _NotOpen
    return book.best_ask.price


def _limit_args(rule: Rule, symbol: Symbol, order_type: str, at: Decimal) -> dict[str, Any]:
    price, qty = rule_limit_buy(rule, symbol, at)
    if qty <= 0:
        raise _Stop(f"{rule.amount.normalize():f} buys less than one quantity step at {price.normalize():f}")
    return {"type": order_type, "price": price, "quantity": qty}


def firing_rest_cancel(*, rule: Rule, order: Order) -> Order:
    """An immediate-or-cancel buy sent as a plain LIMIT (the symbol lists no IOC orders) whose rest
    is still open: cancel it now. Its rest is normally cancelled the moment the exchange accepts it
    (`order_place(cancel_rest=True)`, the armed order's pre-signed cancel); this is the fallback when
    that cancel was not confirmed, and `order` must be freshly read (an order already closed is left
    alone: never a second cancel)."""
    if not (rule_cancels_rest(rule, order.type) and order.is_open):
        return order
    try:
        return trading.order_cancel(user=rule.user, order_id=order.pk)
    except Conflict:  # filled (or cancelled) in the meantime: nothing rests
        return trading.order_refresh(user=rule.user, order_id=order.pk)
    except BruteError as exc:
        log.warning("the rest of %s could not be cancelled: %s", order.client_order_id, exc)
        return order


def firing_order_story(*, rule: Rule, order: Order) -> str:
    """What the rule sent and what came of it, in the words of the notification and the timeline."""
    symbol = formatting.symbol_row(order.symbol)
    price = formatting.price_text(order.price, symbol) if order.price is not None else ""
    if order.type == Order.Type.MARKET:
        sent = f"a market buy of up to {formatting.quote_text(rule.amount, symbol)}"
    elif rule.max_price is not None and order.type == Order.Type.IMMEDIATE_OR_CANCEL:
        sent = f"an immediate-or-cancel LIMIT at your max price {price}"
    elif rule_is_ioc(rule):
        sent = f"a LIMIT at your max price {price}, its unfilled rest cancelled once accepted"
    elif rule.max_price is not None:
        sent = f"a resting LIMIT at your max price {price}"
    elif rule.order_type == Rule.OrderType.MARKET:
        sent = f"a LIMIT at {price}, best ask + slippage (API market orders are disabled on {order.symbol})"
    else:
        sent = f"a LIMIT at {price}, best ask + slippage"
    done = f"order {order.client_order_id} {order.get_status_display().lower()}"
    if order.executed_qty > 0 and order.avg_price is not None:
        bought = formatting.quantity_text(order.executed_qty, symbol)
        done += f", {bought} bought at {formatting.average_text(order.avg_price, symbol)} on average"
    return f"{sent}; {done}"


def firing_title(*, symbol: str, order: Order) -> str:
    """The notification's title: what was bought, in the base asset, when anything was."""
    if order.executed_qty > 0:
        bought = formatting.quantity_text(order.executed_qty, formatting.symbol_row(symbol))
        return f"Rule fired: bought {bought}"
    return f"Rule fired: order for {symbol} {order.get_status_display().lower()}"


def _finish(firing: RuleFiring, order: Order) -> RuleFiring:
    rule = firing.rule
    order = firing_rest_cancel(rule=rule, order=order)
    last_fill = order.fills.order_by("-time").first() if order.executed_qty > 0 else None
    with transaction.atomic():
        RuleFiring.objects.filter(pk=firing.pk).update(
            status=Status.DONE, order=order, finished_at=timezone.now(), lease_owner="",
            filled_at=last_fill.time if last_fill is not None else None,
        )  # fmt: skip
        Rule.objects.filter(pk=rule.pk).update(last_fired_at=firing.detected_at)
        notification_send(
            user=rule.user,
            kind="rule_fired",
            title=firing_title(symbol=firing.symbol, order=order),
            body=f"{rule}: {firing.reason}. Sent {firing_order_story(rule=rule, order=order)}",
            data={"rule": rule.pk, "firing": firing.pk, "order": order.pk},
            level="success",
        )
    firing.refresh_from_db()
    positions_sync()
    return firing


def firing_fail(
    *, firing: RuleFiring, reason: str, action: str = RuleFiring.Action.BUY, **fields: Any
) -> RuleFiring:
    """Close a firing that did not buy, with the reason (and `fields`, more columns to set), and tell
    the rule's owner: a rule's attempts here, an armed order the exchange refused in arming.py."""
    with transaction.atomic():
        RuleFiring.objects.filter(pk=firing.pk).update(
            status=Status.FAILED,
            action=action,
            reason=f"{firing.reason}; {reason}",
            finished_at=timezone.now(),
            **fields,
        )
        notification_send(
            user=firing.rule.user,
            kind="rule_fired",
            title=f"Rule did not buy {firing.symbol}",
            body=f"{firing.rule}: {reason}",
            data={"rule": firing.rule_id, "firing": firing.pk},
            level="warning",
        )
    firing.refresh_from_db()
    return firing


def _notify_risk(rule: Rule, exc: BruteError) -> None:
    notification_send(
        user=rule.user,
        kind="risk_refused",
        title=f"Risk limits refused a buy of {rule.symbol or 'a new listing'}",
        body=exc.message,
        data={"rule": rule.pk},
        level="warning",
    )


def firings_resume() -> int:
    """After a restart: run every firing left claimed or placing whose lease has lapsed."""
    stale = RuleFiring.objects.filter(
        Q(status=Status.CLAIMED) | Q(status=Status.PLACING, lease_until__lt=timezone.now())
    )
    return sum(
        firing_execute(firing_id=pk).status == Status.DONE for pk in stale.values_list("pk", flat=True)
    )
