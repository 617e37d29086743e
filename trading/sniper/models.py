"""New listings, auto-buy rules and their firings, positions with their exits, price alerts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import ExactDecimalField
from trading.models import Fill, Mode, Order, OwnedQuerySet, money, money_or_none


def pct_or_none(**kwargs: Any) -> models.DecimalField[Decimal | None, Decimal | None]:
    return ExactDecimalField(max_digits=9, decimal_places=4, null=True, blank=True, **kwargs)


class Listing(models.Model):
    """One coin on its way to the market: expected (calendar) -> listed (exchangeInfo) -> trading."""

    class State(models.TextChoices):
        EXPECTED = "expected", "Expected"
        LISTED = "listed", "Listed"
        TRADING = "trading", "Trading"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        CALENDAR = "calendar", "New-coin calendar"
        EXCHANGE = "exchange", "exchangeInfo"
        MANUAL = "manual", "Manual"

    symbol = models.CharField(max_length=40, unique=True)
    base_asset = models.CharField(max_length=20)
    name = models.CharField(max_length=120, blank=True)
    coin_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.EXPECTED, db_index=True)
    expected_open = models.DateTimeField(null=True, blank=True, db_index=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.EXCHANGE)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expected_open", "symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.TRADING


class ListingEvent(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="events")
    old_state = models.CharField(max_length=10, blank=True)
    new_state = models.CharField(max_length=10)
    detail = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.listing_id}: {self.old_state}->{self.new_state}"


class Rule(models.Model):
    class Trigger(models.TextChoices):
        LISTING_OPENS = "listing_opens", "Listing opens"
        PRICE_ABOVE = "price_above", "Price above"
        PRICE_BELOW = "price_below", "Price below"
        PCT_RISE = "pct_rise", "Rises by % over window"
        PCT_DROP = "pct_drop", "Drops by % over window"
        VOLUME_SURGE = "volume_surge", "Volume surge (x average)"

    class OrderType(models.TextChoices):
        MARKET = "MARKET", "Market"
        LIMIT = "LIMIT", "Limit"

    class CapOrder(models.TextChoices):
        """How a rule with a max price buys: always a limit at max_price, never a market order."""

        IOC = "IMMEDIATE_OR_CANCEL", "Immediate or cancel at max price (the rest is cancelled)"
        RESTING = "LIMIT", "Resting limit at max price (waits for sellers at or below it)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sniper_rules")
    name = models.CharField(max_length=80, blank=True)
    symbol = models.CharField(max_length=40, blank=True, db_index=True)
    any_new_listing = models.BooleanField(default=False)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.LISTING_OPENS)
    # A price (price_above/below), a percent (pct_rise/drop) or a multiple of the average volume.
    trigger_value = money_or_none()
    window_minutes = models.PositiveIntegerField(default=5)
    amount = money(help_text="Quote amount (e.g. USDT) to spend per firing; never exceeded")
    max_price = money_or_none()
    max_price_order = models.CharField(max_length=20, choices=CapOrder.choices, default=CapOrder.IOC)
    order_type = models.CharField(max_length=10, choices=OrderType.choices, default=OrderType.MARKET)
    cooldown_seconds = models.PositiveIntegerField(default=3600)
    enabled = models.BooleanField(default=True)
    stop_loss_pct = pct_or_none()
    trailing_pct = pct_or_none()
    take_profit = models.JSONField(default=list, blank=True)  # [{"gain_pct": "5", "sell_pct": "50"}, ...]
    last_fired_at = models.DateTimeField(null=True, blank=True)
    # A deleted rule is kept (disabled) so that its firings, and the orders they placed, keep their story.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="sniper_rule_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(any_new_listing=True, symbol="") | (Q(any_new_listing=False) & ~Q(symbol="")),
                name="sniper_rule_symbol_or_any",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.target} {self.get_trigger_display().lower()}"

    @property
    def target(self) -> str:
        return "any new listing" if self.any_new_listing else self.symbol

    @property
    def has_exit_plan(self) -> bool:
        return bool(self.stop_loss_pct or self.trailing_pct or self.take_profit)


class RuleFiring(models.Model):
    """Every time a rule fires: what was decided and why. A buy is claimed once per (rule, listing) or,
    for market triggers, once per cooldown, through the unique `claim_key`."""

    class Action(models.TextChoices):
        BUY = "buy", "Buy"
        SKIP = "skip", "Skipped"
        DUPLICATE = "duplicate", "Duplicate event"
        REFUSED = "refused", "Refused"

    class Status(models.TextChoices):
        # Claimed before the open with its PENDING order written and its request pre-built in memory.
        ARMED = "armed", "Armed"
        CLAIMED = "claimed", "Claimed"
        PLACING = "placing", "Placing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    listing = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    symbol = models.CharField(max_length=40)
    claim_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE, db_index=True)
    reason = models.TextField(blank=True)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    # One executor at a time: taken and renewed by conditional UPDATEs; a stale lease can be taken over.
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    order_type = models.CharField(max_length=10, blank=True)
    limit_price = money_or_none()
    # When the trigger was seen (for a listing: the frame that showed it open), microsecond precision.
    detected_at = models.DateTimeField(default=timezone.now)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The timeline of a buy (see `steps`): the open it was armed for, when it was armed, when the
    # deciding request left and when the exchange's acceptance came back (our clock, microseconds), and
    # when it filled (the fill's time as the exchange stamped it: its clock, whole milliseconds).
    open_at = models.DateTimeField(null=True, blank=True)
    armed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    # What sent it: the clock at the open, a market-stream frame, a REST probe, or another order's
    # acceptance showing the symbol open.
    signal = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"firing {self.pk} of rule {self.rule_id}: {self.action} ({self.status})"

    def client_order_id(self, attempt: int) -> str:
        """Deterministic per (rule, listing, attempt): the firing is unique per (rule, listing)."""
        return f"snf{self.pk}a{attempt}"

    @property
    def client_order_prefix(self) -> str:
        return f"snf{self.pk}a"

    # Where a step falls when two share a millisecond: the order one firing goes through them.
    STEP_ORDER = ("detected", "armed", "sent", "accepted", "filled", "refused", "failed")

    @property
    def steps(self) -> list[tuple[str, datetime]]:
        """The steps this firing reached, as every page shows them: sorted by the key (the time to the
        millisecond, then STEP_ORDER). The times are not all from one clock: "filled" is the fill's
        time as the exchange stamps it (MEXC: its own clock, in whole milliseconds), the others are
        ours (microseconds). At the millisecond both compare at the same grain, so a fill stamped in
        the millisecond our answer arrived sorts after "accepted", not before it on a rounding; a fill
        stamped a millisecond earlier (the exchange filled, then its answer travelled) comes first."""
        first = ("armed", self.armed_at) if self.armed_at else ("detected", self.detected_at)
        named = [first, ("sent", self.sent_at), ("accepted", self.accepted_at), ("filled", self.filled_at)]
        if self.status == self.Status.FAILED:
            named.append(("refused" if self.action == self.Action.REFUSED else "failed", self.finished_at))
        reached = [(name, at) for name, at in named if at is not None]
        return sorted(reached, key=lambda step: (_to_the_ms(step[1]), self.STEP_ORDER.index(step[0])))


def _to_the_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class Position(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions")
    mode = models.CharField(max_length=5, choices=Mode.choices)
    symbol = models.CharField(max_length=40)
    qty = money()
    # The most the position ever held: take-profit sell percentages are of this quantity.
    peak_qty = money()
    avg_entry = money()
    realised_pnl = money()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    rule = models.ForeignKey(Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    stop_loss_pct = pct_or_none()
    trailing_pct = pct_or_none()
    high_watermark = money_or_none()
    take_profit = models.JSONField(default=list, blank=True)  # [{"gain_pct", "sell_pct", "done"}, ...]
    # Bumped by a conditional UPDATE to claim each exit: two monitors never sell the same level twice.
    exit_seq = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "mode", "symbol"], condition=Q(status="open"), name="sniper_one_open_position"
            ),
            models.CheckConstraint(condition=Q(qty__gte=0), name="sniper_position_qty_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty} @ {self.avg_entry} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def cost(self) -> Decimal:
        return self.qty * self.avg_entry

    def unrealised_pnl(self, price: Decimal | None) -> Decimal | None:
        return None if price is None else (price - self.avg_entry) * self.qty

    @property
    def protected(self) -> bool:
        """An exit set by hand on the whole position, or a rule's plan on what it bought, still armed."""
        by_hand = self.stop_loss_pct or self.trailing_pct or any(not x.get("done") for x in self.take_profit)
        return bool(by_hand) or any(plan.armed for plan in self.plans.all())


class ExitPlan(models.Model):
    """A rule's exits on the position its buys landed in. They sell only what that rule bought
    (`bought`, after base-asset fees) less what its own exits sold already: one position per user,
    mode and symbol holds the coins of every rule and of manual buys, and a rule's stop never sells
    coins another rule, or the user, bought. The stop and the ladder are priced from `entry`, the
    average price of the rule's own buys."""

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="plans")
    rule = models.ForeignKey(Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    bought = money()
    entry = money()
    stop_loss_pct = pct_or_none()
    trailing_pct = pct_or_none()
    high_watermark = money_or_none()
    take_profit = models.JSONField(default=list, blank=True)  # [{"gain_pct", "sell_pct", "done"}, ...]

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["position", "rule"], name="sniper_one_plan_per_rule_and_position"
            ),
        ]

    def __str__(self) -> str:
        return f"exit plan of rule {self.rule_id} on position {self.position_id}"

    @property
    def armed(self) -> bool:
        return bool(
            self.stop_loss_pct or self.trailing_pct or any(not x.get("done") for x in self.take_profit)
        )


class PositionExit(models.Model):
    class Kind(models.TextChoices):
        STOP_LOSS = "stop_loss", "Stop-loss"
        TRAILING = "trailing", "Trailing stop"
        TAKE_PROFIT = "take_profit", "Take-profit"
        MANUAL = "manual", "Closed by hand"

    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        FAILED = "failed", "Failed"

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="exits")
    # The rule's plan this exit sells for (what it may sell is capped by that plan), or none: set by hand.
    plan = models.ForeignKey(ExitPlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="exits")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    level = models.IntegerField(null=True, blank=True)
    qty = money()
    trigger_price = money_or_none()
    client_order_id = models.CharField(max_length=32, unique=True)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PLACED)
    reason = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} of position {self.position_id}"


class AppliedFill(models.Model):
    """A fill already folded into positions: the sync applies each fill exactly once."""

    fill = models.OneToOneField(Fill, on_delete=models.CASCADE, related_name="sniper_applied")
    position = models.ForeignKey(Position, on_delete=models.SET_NULL, null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    realised = money()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"fill {self.fill_id} applied"


class PriceAlert(models.Model):
    """Fires once when crossed, then stays triggered until re-armed by hand (re-arming a percent-move
    alert takes the current price as its new reference)."""

    class Kind(models.TextChoices):
        ABOVE = "above", "Price above"
        BELOW = "below", "Price below"
        MOVE_PCT = "move_pct", "Moves by % (either way)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts")
    symbol = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = money()
    reference_price = money_or_none()
    armed = models.BooleanField(default=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = money_or_none()
    note = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["symbol", "-created"]
        constraints = [models.CheckConstraint(condition=Q(value__gt=0), name="sniper_alert_value_gt_0")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.get_kind_display().lower()} {self.value}"
