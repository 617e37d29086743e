"""Positions from fills, and their exits: stop-loss, trailing stop, take-profit ladder, by hand.

Fills are recorded by `order_place`/`order_record` (trading); this module folds each one into a
position exactly once (`AppliedFill`, unique per fill) from a sync that runs after each sniper or exit
order and periodically. Exits are claimed by a conditional UPDATE of `exit_seq`, so two monitors never
sell the same level twice; all the state lives in the database, so a restarted monitor resumes.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.notifications.services import notification_send
from config.errors import BruteError, Conflict, InvalidInput, NotFound
from trading import formatting
from trading import services as trading
from trading.models import Fill, Order, Symbol
from trading.sniper.models import AppliedFill, ExitPlan, Position, PositionExit, Rule, RuleFiring
from trading.sniper.prices import MarketView, Quote, book_fetch, priced
from trading.sniper.selectors import plan_unsold
from trading.sniper.services.common import slippage, take_profit_clean

log = logging.getLogger(__name__)
FIRING_ID = re.compile(r"^snf(\d+)a\d+$")
EIGHTEEN = Decimal("1e-18")
FAILED_EXIT_BACKOFF = timedelta(seconds=10)
Kind = PositionExit.Kind


# ---- fills into positions -------------------------------------------------------------------------


def positions_sync(*, limit: int = 500, user_id: int | None = None) -> int:
    """Apply every fill not yet applied (of one user when `user_id` is given), oldest first.
    Idempotent, and safe beside another process doing the same (a fill is applied once: AppliedFill
    is one-to-one with it); returns how many this call applied."""
    fills = Fill.objects.filter(sniper_applied__isnull=True)
    if user_id is not None:
        fills = fills.filter(order__user_id=user_id)
    ordered = fills.select_related("order").order_by("time", "id")
    return sum(position_apply_fill(fill=f) is not None for f in ordered[:limit])


def position_apply_fill(*, fill: Fill) -> AppliedFill | None:
    """Fold one fill into its user's position on the symbol (None if it was applied already)."""
    order = fill.order
    symbol = Symbol.objects.filter(symbol=order.symbol).first()
    base = symbol.base_asset if symbol else ""
    quote = symbol.quote_asset if symbol else ""
    try:
        with transaction.atomic():
            applied = AppliedFill.objects.create(fill=fill, user_id=order.user_id, at=fill.time)
            fee_base = fill.commission if fill.commission_asset == base else Decimal(0)
            fee_quote = fill.commission if fill.commission_asset == quote else Decimal(0)
            pos = Position.objects.filter(
                user_id=order.user_id, mode=order.mode, symbol=order.symbol, status=Position.Status.OPEN
            ).first()
            if order.side == Order.Side.BUY:
                pos = _buy(pos, order, fill, fill.qty - fee_base, fill.quote_qty + fee_quote)
            elif pos is not None:
                applied.realised = _sell(pos, fill, fee_quote, symbol)
            applied.position = pos
            applied.save(update_fields=["position", "realised"])
    except IntegrityError:
        return None
    return applied


def positions_clear(*, user: User, mode: str) -> int:
    """Close the user's open positions on `mode` with nothing held and no exit plan left, and settle
    every fill of that mode not folded in yet as applied to no position; returns how many closed.

    For a paper account reset (`trading.positions.PositionBook.clear`), in its transaction: the coins
    are gone, so an exit would sell the fresh balance, and an old fill folded in later would reopen
    a position with the old entry. `exit_seq` moves on, so a monitor holding the old row claims
    nothing."""
    now = timezone.now()
    with transaction.atomic():
        ExitPlan.objects.filter(
            position__user=user, position__mode=mode, position__status=Position.Status.OPEN
        ).update(stop_loss_pct=None, trailing_pct=None, take_profit=[])
        pending = Fill.objects.filter(order__user=user, order__mode=mode, sniper_applied__isnull=True)
        AppliedFill.objects.bulk_create(
            [AppliedFill(fill=fill, user=user, at=fill.time) for fill in pending.only("id", "time")],
            ignore_conflicts=True,
        )
        return Position.objects.filter(user=user, mode=mode, status=Position.Status.OPEN).update(
            status=Position.Status.CLOSED,
            closed_at=now,
            qty=Decimal(0),
            stop_loss_pct=None,
            trailing_pct=None,
            take_profit=[],
            exit_seq=F("exit_seq") + 1,
            updated=now,
        )


def _rule_of(order: Order) -> Rule | None:
    match = FIRING_ID.match(order.client_order_id)
    firing = RuleFiring.objects.select_related("rule").filter(pk=match.group(1)).first() if match else None
    return firing.rule if firing is not None else None


def _protect_with(pos: Position, rule: Rule, got: Decimal, price: Decimal) -> None:
    """Record what a rule with an exit plan bought into the position, in that rule's own plan: its
    exits sell that quantity at most, priced from the average of its own buys."""
    plan, _ = ExitPlan.objects.get_or_create(
        position=pos,
        rule=rule,
        defaults={
            "stop_loss_pct": rule.stop_loss_pct,
            "trailing_pct": rule.trailing_pct,
            "take_profit": [{**level, "done": False} for level in rule.take_profit],
        },
    )
    bought = plan.bought + got
    plan.entry = (
        ((plan.bought * plan.entry + got * price) / bought).quantize(EIGHTEEN) if bought > 0 else price
    )
    plan.bought = bought
    plan.high_watermark = max(plan.high_watermark or price, price)
    plan.save(update_fields=["bought", "entry", "high_watermark"])


def _buy(pos: Position | None, order: Order, fill: Fill, got: Decimal, cost: Decimal) -> Position:
    opened = pos is None
    if pos is None:
        pos = Position(user_id=order.user_id, mode=order.mode, symbol=order.symbol, opened_at=fill.time)
    total = pos.qty * pos.avg_entry + cost
    pos.qty += got
    pos.avg_entry = (total / pos.qty).quantize(EIGHTEEN) if pos.qty > 0 else Decimal(0)
    pos.peak_qty = max(pos.peak_qty, pos.qty)
    pos.high_watermark = max(pos.high_watermark or fill.price, fill.price)
    rule = _rule_of(order)
    pos.rule = pos.rule or rule
    pos.save()
    if rule is not None and rule.has_exit_plan:
        _protect_with(pos, rule, got, (cost / got).quantize(EIGHTEEN) if got > 0 else fill.price)
    if opened:
        notification_send(
            user=order.user,
            kind="position_opened",
            title=f"Position opened: {pos.symbol}",
            body=_opened_text(pos),
            data={"position": pos.pk},
        )
    return pos


def _opened_text(pos: Position) -> str:
    """ "19,998.99 NEW at 0.0500025119": the coin at its quantity step, the entry as an average."""
    row = formatting.symbol_row(pos.symbol)
    return f"{formatting.quantity_text(pos.qty, row)} at {formatting.average_text(pos.avg_entry, row)}"


def _sell(pos: Position, fill: Fill, fee_quote: Decimal, symbol: Symbol | None) -> Decimal:
    sold = min(fill.qty, pos.qty)
    realised = sold * (fill.price - pos.avg_entry) - fee_quote
    pos.qty -= sold
    pos.realised_pnl += realised
    if (symbol is None and pos.qty <= 0) or (symbol is not None and _dust(pos.qty, fill.price, symbol)):
        pos.status, pos.closed_at = Position.Status.CLOSED, fill.time
        notification_send(
            user=fill.order.user,
            kind="position_closed",
            title=f"Position closed: {pos.symbol}",
            body=f"Realised P&L {pos.realised_pnl.quantize(Decimal('0.0001')).normalize():f}",
            data={"position": pos.pk},
        )
    pos.save()
    return realised


def _dust(qty: Decimal, price: Decimal | None, symbol: Symbol) -> bool:
    """Too little to sell on its own: under one step, the minimum quantity or the minimum value."""
    left = qty.quantize(symbol.quantity_step, ROUND_DOWN)
    too_cheap = price is not None and left * price < symbol.min_notional
    return left <= 0 or left < symbol.min_quantity or too_cheap


# ---- protection and exits -------------------------------------------------------------------------


def position_protect(
    *,
    user: User,
    position: Position,
    stop_loss_pct: Decimal | None,
    trailing_pct: Decimal | None,
    take_profit: list[dict[str, Any]],
) -> Position:
    if position.user_id != user.pk:
        raise NotFound("No such position.")
    levels = [{**level, "done": False} for level in take_profit_clean(take_profit)]
    Position.objects.filter(pk=position.pk).update(
        stop_loss_pct=stop_loss_pct, trailing_pct=trailing_pct, take_profit=levels, updated=timezone.now()
    )
    position.refresh_from_db()
    return position


def positions_monitor(*, view: MarketView | None = None) -> int:
    """One pass of the watch on every protected open position; returns how many exits it placed."""
    watched = Position.objects.filter(status=Position.Status.OPEN).prefetch_related("plans")
    open_positions = [p for p in watched if p.protected]
    placed = 0
    for pos, quote in priced(open_positions, view):
        if (stale := _stale_exit(pos)) is not None:
            placed += exit_reprice(position=pos, exit=stale, price=quote.sell_price) is not None
        elif not _busy(pos):
            placed += _watch(pos, quote) is not None
    return placed


def exit_reprice_after() -> timedelta:
    """How long an exit order may rest unfilled before it is cancelled and sent again at the current
    book (SNIPER_EXIT_REPRICE_MS)."""
    return timedelta(milliseconds=settings.SNIPER_EXIT_REPRICE_MS)


def _stale_exit(pos: Position) -> PositionExit | None:
    cutoff = timezone.now() - exit_reprice_after()
    return (
        PositionExit.objects.select_related("order")
        .filter(position=pos, order__status__in=Order.OPEN_STATUSES, order__created__lte=cutoff)
        .exclude(order__status=Order.Status.PENDING)
        .order_by("at")
        .first()
    )


def exit_reprice(*, position: Position, exit: PositionExit, price: Decimal | None) -> PositionExit | None:
    """Cancel an exit order the market has left behind (a limit priced from a book that has since
    moved) and sell what it did not, at the current book: a market order where the symbol allows
    one, else a limit just under the best bid (`_sell_order`). A position whose stop was crossed is
    so never left without a working exit; a refused re-send backs off and the watch tries again."""
    order = exit.order
    assert order is not None
    try:
        order = trading.order_cancel(user=position.user, order_id=order.pk)
    except BruteError as exc:
        # Filled or cancelled meanwhile (Conflict), or the exchange is unreachable: the next tick
        # sees the order's real state.
        log.info("exit %s of position %s not cancelled: %s", exit.client_order_id, position.pk, exc)
        return None
    positions_sync()  # its partial fills, if any, into the position first
    position.refresh_from_db()
    if order.is_open or not position.is_open:
        return None
    left = exit.qty - order.executed_qty
    log.info("exit %s of position %s re-priced: %s left", exit.client_order_id, position.pk, left)
    plan = ExitPlan.objects.filter(pk=exit.plan_id).first() if exit.plan_id else None
    return position_exit(position=position, kind=exit.kind, qty=left, price=price, plan=plan)


def _busy(pos: Position) -> bool:
    """An exit still working, or one refused moments ago: wait for it rather than pile up orders."""
    recent = timezone.now() - FAILED_EXIT_BACKOFF
    exits = PositionExit.objects.filter(position=pos)
    return (
        exits.filter(order__status__in=Order.OPEN_STATUSES).exists()
        or exits.filter(status=PositionExit.Status.FAILED, at__gte=recent).exists()
    )


def _watch(pos: Position, quote: Quote) -> PositionExit | None:
    """The exits set by hand on the whole position first, then each rule's plan on what it bought."""
    price = quote.sell_price
    if pos.trailing_pct and (pos.high_watermark is None or price > pos.high_watermark):
        Position.objects.filter(pk=pos.pk).update(high_watermark=price)
        pos.high_watermark = price
    if pos.stop_loss_pct and price <= pos.avg_entry * (1 - pos.stop_loss_pct / 100):
        return position_exit(position=pos, kind=Kind.STOP_LOSS, qty=pos.qty, price=price)
    if pos.trailing_pct and pos.high_watermark and price <= pos.high_watermark * (1 - pos.trailing_pct / 100):
        return position_exit(position=pos, kind=Kind.TRAILING, qty=pos.qty, price=price)
    for i, level in enumerate(pos.take_profit):
        if not level.get("done") and price >= pos.avg_entry * (1 + Decimal(level["gain_pct"]) / 100):
            qty = pos.peak_qty * Decimal(level["sell_pct"]) / 100
            return position_exit(position=pos, kind=Kind.TAKE_PROFIT, qty=qty, price=price, level=i)
    for plan in pos.plans.all():
        if plan.armed and (exit := _watch_plan(pos, plan, price)) is not None:
            return exit
    return None


def _watch_plan(pos: Position, plan: ExitPlan, price: Decimal) -> PositionExit | None:
    if plan.trailing_pct and (plan.high_watermark is None or price > plan.high_watermark):
        ExitPlan.objects.filter(pk=plan.pk).update(high_watermark=price)
        plan.high_watermark = price
    left = plan_unsold(plan=plan)
    if left <= 0:
        return None
    if plan.stop_loss_pct and price <= plan.entry * (1 - plan.stop_loss_pct / 100):
        return position_exit(position=pos, kind=Kind.STOP_LOSS, qty=left, price=price, plan=plan)
    high = plan.high_watermark
    if plan.trailing_pct and high and price <= high * (1 - plan.trailing_pct / 100):
        return position_exit(position=pos, kind=Kind.TRAILING, qty=left, price=price, plan=plan)
    for i, level in enumerate(plan.take_profit):
        if not level.get("done") and price >= plan.entry * (1 + Decimal(level["gain_pct"]) / 100):
            qty = plan.bought * Decimal(level["sell_pct"]) / 100
            return position_exit(
                position=pos, kind=Kind.TAKE_PROFIT, qty=qty, price=price, level=i, plan=plan
            )
    return None


def _claim(
    pos: Position, kind: str, qty: Decimal, price: Decimal | None, level: int | None, plan: ExitPlan | None
) -> PositionExit | None:
    with transaction.atomic():
        if not Position.objects.filter(pk=pos.pk, exit_seq=pos.exit_seq, status=Position.Status.OPEN).update(
            exit_seq=F("exit_seq") + 1
        ):
            return None
        pos.exit_seq += 1
        if level is not None:
            _level_done(pos, plan, level, done=True)
        return PositionExit.objects.create(
            position=pos,
            plan=plan,
            kind=kind,
            level=level,
            qty=qty,
            trigger_price=price,
            client_order_id=f"snx{pos.pk}n{pos.exit_seq}",
        )


def _level_done(pos: Position, plan: ExitPlan | None, level: int, *, done: bool) -> None:
    """Mark a take-profit level of the plan (or of the position's own ladder) sold or armed again."""
    if plan is None:
        pos.take_profit[level]["done"] = done
        Position.objects.filter(pk=pos.pk).update(take_profit=pos.take_profit)
    else:
        plan.take_profit[level]["done"] = done
        ExitPlan.objects.filter(pk=plan.pk).update(take_profit=plan.take_profit)


def position_exit(
    *,
    position: Position,
    kind: str,
    qty: Decimal,
    price: Decimal | None = None,
    level: int | None = None,
    plan: ExitPlan | None = None,
) -> PositionExit | None:
    """Sell `qty` of the position through `order_place`: for a rule's plan, never more than that
    plan still protects (all of it when the rest would be dust); the whole position when what would
    be left of it is dust."""
    symbol = Symbol.objects.filter(symbol=position.symbol).first()
    if symbol is None:
        return None
    step = symbol.quantity_step
    held = position.qty.quantize(step, ROUND_DOWN)
    cap = held if plan is None else min(held, plan_unsold(plan=plan).quantize(step, ROUND_DOWN))
    qty = min(qty, cap).quantize(step, ROUND_DOWN)
    if _dust(cap - qty, price, symbol):
        qty = cap
    if _dust(held - qty, price, symbol):
        qty = held
    if qty <= 0 or (plan is not None and _dust(qty, price, symbol)):
        return None  # a rule's last crumbs are left to a sale of the whole position
    exit = _claim(position, kind, qty, price, level, plan)
    if exit is None:
        return None
    try:
        order = _sell_order(position, symbol, qty, exit.client_order_id)
    except BruteError as exc:
        return _exit_failed(position, exit, exc)
    exit.order = order
    exit.save(update_fields=["order"])
    positions_sync()
    _exit_notify(position, exit, order)
    return exit


def _sell_order(position: Position, symbol: Symbol, qty: Decimal, client_order_id: str) -> Order:
    args: dict[str, Any] = {"type": "MARKET", "quantity": qty}
    try:
        return trading.order_place(
            user=position.user, symbol=symbol.symbol, side="SELL", source=Order.Source.POSITION,
            client_order_id=client_order_id, **args,
        )  # fmt: skip
    except BruteError as exc:
        if exc.code != "order_type_not_allowed":
            raise
    # API market orders disabled (30051): a limit just under the best bid, bounded by the slippage.
    book = book_fetch(symbol.symbol)
    if book is None or book.best_bid is None:
        raise BruteError(f"No bid on {symbol.symbol} to sell into", code="no_liquidity")
    price = (book.best_bid.price * (1 - slippage())).quantize(symbol.price_step, ROUND_DOWN)
    return trading.order_place(
        user=position.user, symbol=symbol.symbol, side="SELL", type="LIMIT", quantity=qty, price=price,
        source=Order.Source.POSITION, client_order_id=client_order_id[:29] + "L",
    )  # fmt: skip


def _exit_failed(position: Position, exit: PositionExit, exc: BruteError) -> PositionExit:
    with transaction.atomic():
        exit.status, exit.reason = PositionExit.Status.FAILED, exc.message
        exit.save(update_fields=["status", "reason"])
        if exit.level is not None:  # the level stays armed: tried again after the back-off
            _level_done(position, exit.plan, exit.level, done=False)
        notification_send(
            user=position.user,
            kind="error",
            title=f"Exit of {position.symbol} refused",
            body=f"{exit.get_kind_display()}: {exc.message}",
            data={"position": position.pk},
            level="error",
        )
    return exit


EXIT_KINDS = {
    Kind.STOP_LOSS: "stop_loss_hit",
    Kind.TRAILING: "trailing_stop_hit",
    Kind.TAKE_PROFIT: "take_profit_hit",
    Kind.MANUAL: "position_closed",
}


def _exit_notify(position: Position, exit: PositionExit, order: Order) -> None:
    row = formatting.symbol_row(position.symbol)
    # A rule's exit sells only what that rule bought.
    whose = f" of rule “{exit.plan.rule}”" if exit.plan is not None and exit.plan.rule is not None else ""
    if order.executed_qty > 0 and order.avg_price is not None:
        # What was sold and at what price the exchange filled it, not the price that triggered the exit.
        sold = formatting.quantity_text(order.executed_qty, row)
        done = f"Sold {sold}{whose} at {formatting.average_text(order.avg_price, row)}"
    else:
        done = f"Selling {formatting.quantity_text(exit.qty, row)}{whose}"
    at = formatting.price_text(exit.trigger_price, row) if exit.trigger_price else ""
    trigger = f", triggered at {at}" if at else ""
    notification_send(
        user=position.user,
        kind=EXIT_KINDS[Kind(exit.kind)],
        title=f"{exit.get_kind_display()}: {position.symbol}",
        body=f"{done} (order {order.client_order_id}, {order.get_status_display().lower()}{trigger})",
        data={"position": position.pk, "order": order.pk},
        level="warning" if exit.kind in (Kind.STOP_LOSS, Kind.TRAILING) else "success",
    )


def position_close(*, user: User, position: Position, qty: Decimal | None = None) -> PositionExit:
    """Close a position by hand: all of it, or `qty` of it."""
    if position.user_id != user.pk:
        raise NotFound("No such position.")
    if not position.is_open:
        raise Conflict("The position is already closed")
    if qty is not None and not 0 < qty <= position.qty:
        raise InvalidInput(f"Sell between 0 and {position.qty.normalize():f}")
    if _busy(position):
        raise Conflict("An exit of this position is still working; try again in a moment")
    position.refresh_from_db()
    exit = position_exit(position=position, kind=Kind.MANUAL, qty=qty or position.qty)
    if exit is None:
        raise Conflict("Nothing to sell: the quantity is below the symbol's step or another exit is running")
    if exit.status == PositionExit.Status.FAILED:
        raise BruteError(exit.reason, code="exit_refused")
    return exit


def monitor_interval() -> float:
    return settings.SNIPER_MONITOR_MS / 1000
