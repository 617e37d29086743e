"""Reads of the sniper; user-owned objects only through a selector scoped to the user (404 otherwise)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from trading.sniper.models import Listing, Position, PriceAlert, RiskLimits, Rule, RuleFiring


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
    return Rule.objects.filter(user=user)


def rule_get(*, user: User, rule_id: int) -> Rule:
    return get_object_or_404(Rule, user=user, pk=rule_id)


def firing_list(*, user: User, limit: int = 50) -> QuerySet[RuleFiring]:
    return RuleFiring.objects.filter(rule__user=user).select_related("rule", "order")[:limit]


def position_list(*, user: User) -> QuerySet[Position]:
    return Position.objects.filter(user=user).order_by("status", "-opened_at")[:100]


def position_get(*, user: User, position_id: int) -> Position:
    return get_object_or_404(Position, user=user, pk=position_id)


def alert_list(*, user: User) -> QuerySet[PriceAlert]:
    return PriceAlert.objects.filter(user=user)


def alert_get(*, user: User, alert_id: int) -> PriceAlert:
    return get_object_or_404(PriceAlert, user=user, pk=alert_id)


def risk_limits_get(*, user: User) -> RiskLimits:
    return RiskLimits.objects.filter(user=user).first() or RiskLimits(user=user)
