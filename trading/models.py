"""Trading data: the exchange's symbols and candles, and each user's account, keys, orders, balances and
risk limits."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import ExactDecimalField

if TYPE_CHECKING:
    from accounts.models import User


def money(**kwargs: Any) -> models.DecimalField[Decimal, Decimal]:
    """Every amount of money or quantity: exact decimals, wide enough for any MEXC value. Stored as
    sortable text on SQLite/libSQL (config/fields.py): add such columns up in Python, not with Sum."""
    kwargs.setdefault("default", Decimal(0))
    return ExactDecimalField(max_digits=36, decimal_places=18, **kwargs)


def money_or_none(**kwargs: Any) -> models.DecimalField[Decimal | None, Decimal | None]:
    return ExactDecimalField(max_digits=36, decimal_places=18, null=True, blank=True, **kwargs)


class Mode(models.TextChoices):
    PAPER = "paper", "Paper"
    LIVE = "live", "Live"


class SymbolStatus(models.TextChoices):
    ONLINE = "1", "Online"
    PAUSED = "2", "Paused"
    OFFLINE = "3", "Offline"
    UNKNOWN = "0", "Unknown status"


class TradeSides(models.TextChoices):
    """MEXC's `tradeSideType`: which directions the exchange currently accepts for a symbol."""

    ALL = "1", "Buy and sell"
    BUY_ONLY = "2", "Buy only"
    SELL_ONLY = "3", "Sell only"
    CLOSED = "4", "Closed"


class SymbolQuerySet(models.QuerySet["Symbol"]):
    def open_to_api_orders(self) -> SymbolQuerySet:
        """The symbols an order from Brute can be placed on now: `is_trading` and `api_allowed`, as a
        filter (the one definition of "open to API orders" for pages, forms and the API)."""
        return self.filter(status=SymbolStatus.ONLINE, api_tradable=True, spot_allowed=True).exclude(
            trade_sides=TradeSides.CLOSED
        )


class Symbol(models.Model):
    """One MEXC spot pair as `exchangeInfo` describes it; refreshed by `syncsymbols`."""

    symbol = models.CharField(max_length=40, unique=True)
    base_asset = models.CharField(max_length=20)
    quote_asset = models.CharField(max_length=20, db_index=True)
    status = models.CharField(max_length=1, choices=SymbolStatus.choices, default=SymbolStatus.ONLINE)
    api_tradable = models.BooleanField(default=False, help_text="Listed in /api/v3/defaultSymbols")
    spot_allowed = models.BooleanField(default=True)
    trade_sides = models.CharField(max_length=1, choices=TradeSides.choices, default=TradeSides.ALL)
    # Decimal places (from baseAssetPrecision/quoteAssetPrecision), not step sizes.
    price_precision = models.PositiveSmallIntegerField(default=8)
    quantity_precision = models.PositiveSmallIntegerField(default=8)
    min_quantity = money()
    min_notional = money()
    min_notional_market = money()
    max_notional = money_or_none()
    max_notional_market = money_or_none()
    maker_commission = money()
    taker_commission = money()
    order_types = models.JSONField(default=list)
    first_seen = models.DateTimeField(default=timezone.now)
    listed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    objects = SymbolQuerySet.as_manager()

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol

    @property
    def is_trading(self) -> bool:
        """Open for orders at all. API tradability (`api_tradable`, `spot_allowed`) is a separate question:
        MEXC lists majors such as BTCUSDT as online yet closed to API orders."""
        return self.status == SymbolStatus.ONLINE and self.trade_sides != TradeSides.CLOSED

    @property
    def api_allowed(self) -> bool:
        return self.api_tradable and self.spot_allowed

    @property
    def price_step(self) -> Decimal:
        """The smallest step of a price or a quote amount: 10^-price_precision."""
        return Decimal(1).scaleb(-self.price_precision)

    @property
    def quantity_step(self) -> Decimal:
        """The smallest step of a base quantity: 10^-quantity_precision."""
        return Decimal(1).scaleb(-self.quantity_precision)


class SymbolEvent(models.Model):
    """A change `syncsymbols` noticed, kept for the listing watcher."""

    class Kind(models.TextChoices):
        NEW = "new", "New symbol"
        STATUS = "status", "Status change"
        API_TRADABLE = "api_tradable", "API-tradable change"
        REMOVED = "removed", "Removed from exchangeInfo"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    symbol = models.CharField(max_length=40, db_index=True)
    old = models.CharField(max_length=40, blank=True)
    new = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.kind} {self.old}->{self.new}"


class Interval(models.TextChoices):
    M1 = "1m", "1 minute"
    M5 = "5m", "5 minutes"
    M15 = "15m", "15 minutes"
    M30 = "30m", "30 minutes"
    M60 = "60m", "1 hour"
    H4 = "4h", "4 hours"
    D1 = "1d", "1 day"


class Candle(models.Model):
    symbol = models.CharField(max_length=40)
    interval = models.CharField(max_length=4, choices=Interval.choices)
    open_time = models.DateTimeField()
    open = money()
    high = money()
    low = money()
    close = money()
    volume = money()
    quote_volume = money()

    class Meta:
        ordering = ["symbol", "interval", "open_time"]
        constraints = [
            models.UniqueConstraint(fields=["symbol", "interval", "open_time"], name="candle_unique_open"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} {self.open_time:%Y-%m-%d %H:%M}"


_Owned = TypeVar("_Owned", bound=models.Model)


class OwnedQuerySet(models.QuerySet[_Owned]):
    def for_user(self, user: User) -> OwnedQuerySet[_Owned]:
        return self.filter(user=user)


DEFAULT_PAPER_BALANCE = Decimal("10000")
PAPER_QUOTE_ASSET = "USDT"


class TradingAccount(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trading_account"
    )
    mode = models.CharField(max_length=5, choices=Mode.choices, default=Mode.PAPER)
    paper_starting_balance = money(default=DEFAULT_PAPER_BALANCE)
    paper_reset_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=["paper", "live"]), name="account_mode_valid"),
            models.CheckConstraint(
                condition=Q(paper_starting_balance__gte=0), name="account_paper_balance_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"account of user {self.user_id} ({self.mode})"

    @property
    def paper_start_amount(self) -> Decimal:
        """The USDT a paper account starts (and starts again after a reset) with."""
        return self.paper_starting_balance or DEFAULT_PAPER_BALANCE


class ApiCredential(models.Model):
    """A user's MEXC API key. The secret is Fernet-encrypted (see trading/crypto.py) and never shown again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_credential"
    )
    api_key_encrypted = models.TextField()
    api_secret_encrypted = models.TextField()
    key_hint = models.CharField(max_length=16, help_text="Masked key, e.g. mx0v…k3")
    verified_at = models.DateTimeField(null=True, blank=True)
    can_trade = models.BooleanField(default=False)
    # The last full read of the account's balances from MEXC (GET /api/v3/account), and why the
    # latest attempt failed, in words; null and blank mean the first read is still pending.
    balances_synced_at = models.DateTimeField(null=True, blank=True)
    balances_sync_error = models.CharField(max_length=300, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"MEXC key {self.key_hint}"

    def __repr__(self) -> str:
        return f"<ApiCredential user={self.user_id} key={self.key_hint}>"

    @property
    def masked(self) -> str:
        return self.key_hint


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "BUY", "Buy"
        SELL = "SELL", "Sell"

    class Type(models.TextChoices):
        LIMIT = "LIMIT", "Limit"
        MARKET = "MARKET", "Market"
        LIMIT_MAKER = "LIMIT_MAKER", "Limit maker"
        IMMEDIATE_OR_CANCEL = "IMMEDIATE_OR_CANCEL", "Immediate or cancel"
        FILL_OR_KILL = "FILL_OR_KILL", "Fill or kill"

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"  # written, not yet acknowledged by the exchange
        NEW = "NEW", "New"
        PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
        FILLED = "FILLED", "Filled"
        CANCELED = "CANCELED", "Canceled"
        PARTIALLY_CANCELED = "PARTIALLY_CANCELED", "Partially canceled"
        REJECTED = "REJECTED", "Rejected"

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        API = "api", "API"
        RULE = "rule", "Rule"
        POSITION = "position", "Position monitor"

    OPEN_STATUSES = (Status.PENDING, Status.NEW, Status.PARTIALLY_FILLED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    mode = models.CharField(max_length=5, choices=Mode.choices)
    symbol = models.CharField(max_length=40)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=20, choices=Type.choices)
    client_order_id = models.CharField(max_length=32, unique=True)
    exchange_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    quantity = money_or_none()
    quote_quantity = money_or_none()
    price = money_or_none()
    executed_qty = money()
    cummulative_quote_qty = money()
    avg_price = money_or_none()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "status"], name="order_user_status")]
        constraints = [
            models.CheckConstraint(condition=Q(executed_qty__gte=0), name="order_executed_gte_0"),
            models.CheckConstraint(
                condition=Q(quantity__isnull=False) | Q(quote_quantity__isnull=False),
                name="order_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.type} {self.symbol} {self.client_order_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    trade_id = models.CharField(max_length=64)
    price = money()
    qty = money()
    quote_qty = money()
    commission = money()
    commission_asset = models.CharField(max_length=20, blank=True)
    is_maker = models.BooleanField(default=False)
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-time", "-id"]
        constraints = [models.UniqueConstraint(fields=["order", "trade_id"], name="fill_unique_trade")]

    def __str__(self) -> str:
        return f"fill {self.trade_id} of order {self.order_id}"


class Balance(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="balances")
    mode = models.CharField(max_length=5, choices=Mode.choices)
    asset = models.CharField(max_length=20)
    free = money()
    locked = money()
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["asset"]
        constraints = [
            models.UniqueConstraint(fields=["user", "mode", "asset"], name="balance_unique_asset"),
            models.CheckConstraint(condition=Q(free__gte=0) & Q(locked__gte=0), name="balance_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.free}+{self.locked} ({self.mode})"

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class FavouriteSymbol(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourite_symbols"
    )
    symbol = models.CharField(max_length=40)
    created = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["symbol"]
        constraints = [models.UniqueConstraint(fields=["user", "symbol"], name="favourite_unique_symbol")]

    def __str__(self) -> str:
        return self.symbol


class PortfolioSnapshot(models.Model):
    """The account's value in USDT at one moment: the equity curve and the day's change."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolio_snapshots"
    )
    mode = models.CharField(max_length=5, choices=Mode.choices)
    at = models.DateTimeField(default=timezone.now)
    value = money()

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["user", "mode", "at"], name="snapshot_user_mode_at")]

    def __str__(self) -> str:
        return f"{self.value} at {self.at:%Y-%m-%d %H:%M}"


class RiskLimits(models.Model):
    """Per-user limits checked before every buy (`trading.services.risk`); an empty field is no limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_limits"
    )
    max_order_value = money_or_none()
    max_total_exposure = money_or_none()
    max_open_positions = models.PositiveIntegerField(null=True, blank=True)
    daily_loss_limit = money_or_none()
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        # Moved here from the sniper app with its table (trading 0006 / sniper 0005, state only): the
        # rows stay where they are.
        db_table = "sniper_risklimits"

    def __str__(self) -> str:
        return f"risk limits of user {self.user_id}"
