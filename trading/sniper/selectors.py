"""Reads of the sniper; user-owned objects only through a selector scoped to the user (404 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from config.errors import get_owned_or_404
from config.fields import exact_sum
from trading import formatting, quotes
from trading.models import Mode, Symbol, TradingAccount
from trading.sniper.models import (
    AppliedFill,
    ExitPlan,
    Listing,
    Position,
    PositionExit,
    PriceAlert,
    Rule,
    RuleFiring,
)


def listings_upcoming(*, limit: int = 8) -> QuerySet[Listing]:
    """Not yet trading, soonest first (unknown times last)."""
    return Listing.objects.exclude(state__in=[Listing.State.TRADING, Listing.State.FAILED]).order_by(
        "expected_open", "symbol"
    )[:limit]


def listings_board(*, user: User | None = None) -> dict[str, list[Listing]]:
    """The board; with a user, each listing carries `my_firings`: a `FiringRow` for each of that
    user's firings on it that tried to buy (bought, refused or still on its way), for the timeline."""
    recent = timezone.now() - timedelta(days=7)
    board = {
        "upcoming": list(listings_upcoming(limit=100)),
        "opened": list(Listing.objects.filter(state=Listing.State.TRADING, opened_at__gte=recent)
                       .order_by("-opened_at")[:50]),
        "failed": list(Listing.objects.filter(state=Listing.State.FAILED, updated__gte=recent)[:20]),
    }  # fmt: skip
    if user is not None:
        listings = [listing for rows in board.values() for listing in rows]
        firings: dict[int, list[FiringRow]] = {}
        tried = [RuleFiring.Action.BUY, RuleFiring.Action.REFUSED]
        mine = RuleFiring.objects.filter(rule__user=user, listing__in=listings, action__in=tried)
        mine = mine.select_related("rule", "order")
        for firing in mine.order_by("at", "pk"):  # as they happened on our clock, then as created
            firings.setdefault(firing.listing_id or 0, []).append(firing_row(firing=firing))
        for listing in listings:
            listing.my_firings = firings.get(listing.pk, [])  # type: ignore[attr-defined]
    return board


@dataclass(frozen=True)
class FiringStep:
    name: str
    when: str  # from the open it was armed for (`T+1.2 ms`), else the UTC clock time
    gap: str  # since the step before (`+1.3 ms`), empty for the first


@dataclass(frozen=True)
class FiringRow:
    """One firing as the listings page tells it: how it ended, why or what it bought, and its steps."""

    firing: RuleFiring
    outcome: str
    detail: str
    steps: list[FiringStep]


def firing_row(*, firing: RuleFiring) -> FiringRow:
    outcome, detail = _firing_outcome(firing)
    return FiringRow(firing=firing, outcome=outcome, detail=detail, steps=_firing_steps(firing))


def _firing_outcome(firing: RuleFiring) -> tuple[str, str]:
    status = RuleFiring.Status
    if firing.status == status.FAILED:
        # The reason reads "<what fired>; <why it did not buy>": the second part is the news.
        why = firing.reason.rsplit("; ", 1)[-1]
        return ("refused" if firing.action == RuleFiring.Action.REFUSED else "not bought"), why
    if firing.status == status.ARMED:
        return "armed", "waiting for the open"
    if firing.status in (status.CLAIMED, status.PLACING):
        return "sending", f"attempt {firing.attempts}" if firing.attempts else "about to send"
    order = firing.order
    if order is None:
        return "done", firing.reason
    row = formatting.symbol_row(order.symbol)
    at = f" at {formatting.price_text(order.price, row)}" if order.price is not None else ""
    what = f"{order.get_type_display()}{at}, order {order.get_status_display().lower()}"
    if order.executed_qty > 0:
        average = (
            f" at {formatting.average_text(order.avg_price, row)}" if order.avg_price is not None else ""
        )
        return "bought", f"{formatting.quantity_text(order.executed_qty, row)}{average} ({what})"
    return "order placed", what


def _firing_steps(firing: RuleFiring) -> list[FiringStep]:
    steps, before = [], None
    for name, at in firing.steps:
        gap = "" if before is None else _span(at - before, "")
        if firing.open_at is None:
            when = f"{at:%H:%M:%S.%f}"[:-3] + " UTC"
        else:
            when = _span(at - firing.open_at, "T")
        steps.append(FiringStep(name=name, when=when, gap=gap))
        before = at
    return steps


def _span(delta: timedelta, prefix: str) -> str:
    ms = delta.total_seconds() * 1000
    return f"{prefix}{ms / 1000:+.2f} s" if abs(ms) >= 1000 else f"{prefix}{ms:+.1f} ms"


def rule_list(*, user: User) -> QuerySet[Rule]:
    return Rule.objects.filter(user=user, deleted_at__isnull=True)


def rule_get(*, user: User, rule_id: int) -> Rule:
    return get_owned_or_404(Rule.objects.all(), user=user, pk=rule_id, deleted_at__isnull=True)


def firing_list(*, user: User, limit: int = 50) -> QuerySet[RuleFiring]:
    """The user's firings, without the bookkeeping rows of a second open event finding a rule already
    claimed for its listing (nothing went wrong, nothing was bought twice)."""
    return (
        RuleFiring.objects.filter(rule__user=user)
        .exclude(action=RuleFiring.Action.DUPLICATE)
        .select_related("rule", "order")
        .order_by("-at", "-pk")[:limit]
    )


def position_list(*, user: User) -> QuerySet[Position]:
    """The user's positions, open first; a paper reset starts the paper history again, so the paper
    positions opened before it are no longer listed (live ones always are)."""
    positions = Position.objects.filter(user=user).prefetch_related("plans__rule")
    reset_at = TradingAccount.objects.filter(user=user).values_list("paper_reset_at", flat=True).first()
    if reset_at is not None:
        positions = positions.exclude(mode=Mode.PAPER, opened_at__lt=reset_at)
    return positions.order_by("status", "-opened_at")[:100]


def position_get(*, user: User, position_id: int) -> Position:
    return get_owned_or_404(Position.objects.all(), user=user, pk=position_id)


def alert_list(*, user: User) -> QuerySet[PriceAlert]:
    return PriceAlert.objects.filter(user=user)


def alert_get(*, user: User, alert_id: int) -> PriceAlert:
    return get_owned_or_404(PriceAlert.objects.all(), user=user, pk=alert_id)


def realised_since(*, user: User, since: datetime) -> Decimal:
    """The profit (negative: a loss) realised by the user's fills since `since`; risk limits read it."""
    # Added in Python: exact decimal columns are text to SQL (config/fields.py).
    rows = AppliedFill.objects.filter(user=user, at__gte=since).values_list("realised", flat=True)
    return exact_sum(rows)


def open_position_costs(*, user: User, mode: str) -> dict[str, Decimal]:
    """The cost of each of the user's open positions on `mode`, by symbol; risk limits read it."""
    positions = Position.objects.filter(user=user, mode=mode, status=Position.Status.OPEN)
    return {p.symbol: p.cost for p in positions.only("symbol", "qty", "avg_entry")}


@dataclass(frozen=True)
class PositionRow:
    """A position as the positions page shows it: marked to the last price, in the symbol's decimals."""

    position: Position
    price: Decimal | None
    value: Decimal | None
    pnl: Decimal | None
    pnl_pct: Decimal | None
    price_decimals: int
    qty_decimals: int
    protection: list[str]

    @property
    def pnl_negative(self) -> bool:
        return self.pnl is not None and self.pnl < 0


def plan_unsold(*, plan: ExitPlan) -> Decimal:
    """What a rule's exit plan still protects: what the rule bought less what its exits have sold."""
    sold = PositionExit.objects.filter(plan=plan, order__isnull=False).values_list(
        "order__executed_qty", flat=True
    )
    return max(plan.bought - exact_sum(sold), Decimal(0))


@dataclass(frozen=True)
class _Steps:
    """A symbol's price and quantity steps and its coin, for the lines of the protection column."""

    price_step: Decimal
    qty_step: Decimal
    coin: str

    def price(self, value: Decimal) -> str:
        return f"{value.quantize(self.price_step):f}"

    def coins(self, value: Decimal) -> str:
        return f"{value.quantize(self.qty_step, ROUND_DOWN):f} {self.coin}"


def _protection(p: Position, symbol: Symbol | None) -> list[str]:
    """The exits in force, each with the price that sets it off and the coins it may sell: those set
    by hand hold for the whole position, a rule's only for what that rule bought and has not sold."""
    if symbol is None:
        steps = _Steps(price_step=Decimal("1e-8"), qty_step=Decimal("1e-8"), coin=p.symbol)
    else:
        steps = _Steps(price_step=symbol.price_step, qty_step=symbol.quantity_step, coin=symbol.base_asset)
    high = p.high_watermark or p.avg_entry
    whole = f"on {steps.coins(p.qty)} (the whole position)"
    out = _exit_lines(p, p.avg_entry, high, steps, on=whole, basis=p.peak_qty)
    for plan in p.plans.all():
        left = plan_unsold(plan=plan)
        if not plan.armed or left.quantize(steps.qty_step, ROUND_DOWN) <= 0:
            continue
        rule = plan.rule or "deleted"
        mine = f"on {steps.coins(left)} of the {steps.coins(plan.bought)} rule “{rule}” bought"
        high = plan.high_watermark or plan.entry
        out += _exit_lines(plan, plan.entry, high, steps, on=mine, basis=plan.bought)
    return out


def _exit_lines(
    plan: Position | ExitPlan,
    entry: Decimal,
    high: Decimal,
    steps: _Steps,
    *,
    on: str,
    basis: Decimal,
) -> list[str]:
    out = []
    if plan.stop_loss_pct:
        at = steps.price(entry * (1 - plan.stop_loss_pct / 100))
        out.append(f"Stop-loss -{plan.stop_loss_pct.normalize():f} % (at {at}) {on}")
    if plan.trailing_pct:
        at = steps.price(high * (1 - plan.trailing_pct / 100))
        out.append(f"Trailing -{plan.trailing_pct.normalize():f} % (now {at}) {on}")
    for level in plan.take_profit:
        if not level.get("done"):
            at = steps.price(entry * (1 + Decimal(str(level["gain_pct"])) / 100))
            sell = steps.coins(basis * Decimal(str(level["sell_pct"])) / 100)
            out.append(
                f"Take-profit +{level['gain_pct']} %: sell {level['sell_pct']} % (at {at}) = {sell}, {on}"
            )
    return out


def position_rows(*, user: User) -> list[PositionRow]:
    positions = list(position_list(user=user))
    symbols = {s.symbol: s for s in Symbol.objects.filter(symbol__in={p.symbol for p in positions})}
    rows = []
    for p in positions:
        symbol = symbols.get(p.symbol)
        price_dp = symbol.price_precision if symbol else 8
        qty_dp = symbol.quantity_precision if symbol else 8
        price = quotes.last_price(p.symbol) if p.is_open else None
        pnl = p.unrealised_pnl(price) if price is not None and p.qty else None
        cost = p.qty * p.avg_entry
        rows.append(
            PositionRow(
                position=p,
                price=price,
                value=price * p.qty if price is not None else None,
                pnl=pnl,
                pnl_pct=(pnl / cost * 100) if pnl is not None and cost else None,
                price_decimals=price_dp,
                qty_decimals=qty_dp,
                protection=_protection(p, symbol) if p.is_open else [],
            )
        )
    return rows
