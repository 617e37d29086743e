"""Per-user risk limits, checked before every order a rule or a position places (and, once wired, by
`order_place` for manual and API orders). Sells always pass: limits must never block an exit."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from config.errors import refuse
from config.fields import exact_sum
from trading.models import TradingAccount
from trading.sniper.models import AppliedFill, Position, RiskLimits

RISK_CODE = "risk_limit"


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def day_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def realised_today(*, user: User) -> Decimal:
    # Added in Python: exact decimal columns are text to SQL (config/fields.py).
    rows = AppliedFill.objects.filter(user=user, at__gte=day_start()).values_list("realised", flat=True)
    return exact_sum(rows)


def risk_check(*, user: User, symbol: str, side: str, notional: Decimal | None) -> None:
    """Raise BruteError(code="risk_limit") with the reason when a BUY of `notional` (quote value; None
    when unknown, e.g. a market buy by base quantity) would break one of the user's limits."""
    if side.upper() != "BUY":
        return
    limits = RiskLimits.objects.filter(user=user).first()
    if limits is None:
        return
    if limits.daily_loss_limit is not None:
        loss = -realised_today(user=user)
        if loss >= limits.daily_loss_limit:
            raise refuse(
                RISK_CODE,
                f"Daily loss limit reached: {_fmt(loss)} lost today (limit {_fmt(limits.daily_loss_limit)}); "
                "no new buys until 00:00 UTC",
                403,
            )
    if notional is not None and limits.max_order_value is not None and notional > limits.max_order_value:
        raise refuse(
            RISK_CODE,
            f"Order value {_fmt(notional)} is above your limit of {_fmt(limits.max_order_value)}",
            403,
        )
    mode = TradingAccount.objects.filter(user=user).values_list("mode", flat=True).first() or "paper"
    open_positions = list(Position.objects.filter(user=user, mode=mode, status=Position.Status.OPEN))
    new_symbol = symbol.upper() not in {p.symbol for p in open_positions}
    count, most = len(open_positions), limits.max_open_positions
    if most is not None and new_symbol and count >= most:
        raise refuse(RISK_CODE, f"Already {count} open positions (limit {most})", 403)
    if limits.max_total_exposure is not None:
        exposure = sum((p.cost for p in open_positions), Decimal(0)) + (notional or Decimal(0))
        if exposure > limits.max_total_exposure:
            raise refuse(
                RISK_CODE,
                f"Total exposure would be {_fmt(exposure)}, above your limit of "
                f"{_fmt(limits.max_total_exposure)}",
                403,
            )


def risk_limits_save(*, user: User, **fields: object) -> RiskLimits:
    limits, _ = RiskLimits.objects.get_or_create(user=user)
    for name, value in fields.items():
        setattr(limits, name, value)
    limits.full_clean(exclude=["user"])
    limits.save()
    return limits
