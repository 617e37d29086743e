"""Reads of the sniper; user-owned objects only through a selector scoped to the user (404 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from config.errors import get_owned_or_404
from config.fields import exact_sum
from trading import quotes
from trading.models import Symbol
from trading.sniper.models import AppliedFill, Listing, Position, PriceAlert, Rule, RuleFiring


def listings_upcoming(*, limit: int = 8) -> QuerySet[Listing]:
    """Not yet trading, soonest first (unknown times last)."""
    return Listing.objects.exclude(state__in=[Listing.State.TRADING, Listing.State.FAILED]).order_by(
        "expected_open", "symbol"
    )[:limit]


def listings_board(*, user: User | None = None) -> dict[str, list[Listing]]:
    """The board; with a user, each listing carries `my_firings`: that user's buy firings on it (armed,
    sent, accepted, filled), for the per-firing timeline."""
    recent = timezone.now() - timedelta(days=7)
    board = {
        "upcoming": list(listings_upcoming(limit=100)),
        "opened": list(Listing.objects.filter(state=Listing.State.TRADING, opened_at__gte=recent)
                       .order_by("-opened_at")[:50]),
        "failed": list(Listing.objects.filter(state=Listing.State.FAILED, updated__gte=recent)[:20]),
    }  # fmt: skip
    if user is not None:
        listings = [listing for rows in board.values() for listing in rows]
        firings: dict[int, list[RuleFiring]] = {}
        mine = RuleFiring.objects.filter(
            rule__user=user, listing__in=listings, action=RuleFiring.Action.BUY
        ).select_related("rule")
        for firing in mine.order_by("pk"):
            firings.setdefault(firing.listing_id or 0, []).append(firing)
        for listing in listings:
            listing.my_firings = firings.get(listing.pk, [])  # type: ignore[attr-defined]
    return board


def rule_list(*, user: User) -> QuerySet[Rule]:
    return Rule.objects.filter(user=user, deleted_at__isnull=True)


def rule_get(*, user: User, rule_id: int) -> Rule:
    return get_owned_or_404(Rule.objects.all(), user=user, pk=rule_id, deleted_at__isnull=True)


def firing_list(*, user: User, limit: int = 50) -> QuerySet[RuleFiring]:
    return RuleFiring.objects.filter(rule__user=user).select_related("rule", "order")[:limit]


def position_list(*, user: User) -> QuerySet[Position]:
    return Position.objects.filter(user=user).order_by("status", "-opened_at")[:100]


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


def _protection(p: Position, decimals: int) -> list[str]:
    """The exits in force, each with the price that sets it off."""
    step = Decimal(1).scaleb(-decimals)
    out = []
    if p.stop_loss_pct:
        at = (p.avg_entry * (1 - p.stop_loss_pct / 100)).quantize(step)
        out.append(f"Stop-loss -{p.stop_loss_pct.normalize():f} % (at {at:f})")
    if p.trailing_pct:
        high = p.high_watermark or p.avg_entry
        at = (high * (1 - p.trailing_pct / 100)).quantize(step)
        out.append(f"Trailing -{p.trailing_pct.normalize():f} % (now {at:f})")
    for level in p.take_profit:
        if not level.get("done"):
            at = (p.avg_entry * (1 + Decimal(str(level["gain_pct"])) / 100)).quantize(step)
            out.append(f"Take-profit +{level['gain_pct']} %: sell {level['sell_pct']} % (at {at:f})")
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
                protection=_protection(p, price_dp) if p.is_open else [],
            )
        )
    return rows
