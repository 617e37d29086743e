"""Per-user risk limits, checked by `order_place` before every buy, whoever places it (the order form,
the API, a rule, an exit), and by the sniper when it arms a listing. Sells always pass: limits must
never block an exit. The day's realised loss and the open positions are read from the position book
(`trading/positions.py`), which the sniper keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import NamedTuple

from django.utils import timezone

from accounts.models import User
from config.errors import refuse
from config.prepared import PreparedSelect
from trading.models import RiskLimits
from trading.positions import position_book
from trading.selectors import trading_mode_for_user

RISK_CODE = "risk_limit"


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f}"


def day_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


class Limits(NamedTuple):
    """A user's RiskLimits row as plain values (None: no limit)."""

    max_order_value: Decimal | None
    max_total_exposure: Decimal | None
    max_open_positions: int | None
    daily_loss_limit: Decimal | None


_LIMITS = PreparedSelect(RiskLimits, Limits._fields, where=["user"])


def risk_limits_of(user_id: int) -> Limits | None:
    """The user's limits, read from the database on every call (a limit saved by any process applies
    to the very next order), in one SELECT written once: it runs before every buy, and most users
    have no row (issue 11: the ORM query cost 0.8 ms of a 4.7 ms paper order)."""
    rows = _LIMITS.rows(user_id)
    return Limits(*rows[0]) if rows else None


def risk_check(*, user: User, symbol: str, side: str, notional: Decimal | None) -> None:
    """Raise BruteError(code="risk_limit") with the reason when a BUY of `notional` (quote value; None
    when unknown, e.g. a market buy by base quantity) would break one of the user's limits."""
    if side.upper() != "BUY":
        return
    limits = risk_limits_of(user.pk)
    if limits is None:
        return
    if limits.daily_loss_limit is not None:
        loss = -position_book().realised_since(user, day_start())
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
    if limits.max_open_positions is None and limits.max_total_exposure is None:
        return
    costs = position_book().open_costs(user, trading_mode_for_user(user=user))
    _check_positions(limits, costs, symbol, notional)


def _check_positions(
    limits: Limits, costs: dict[str, Decimal], symbol: str, notional: Decimal | None
) -> None:
    count, most = len(costs), limits.max_open_positions
    if most is not None and symbol.upper() not in costs and count >= most:
        raise refuse(RISK_CODE, f"Already {count} open positions (limit {most})", 403)
    if limits.max_total_exposure is not None:
        exposure = sum(costs.values(), Decimal(0)) + (notional or Decimal(0))
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
