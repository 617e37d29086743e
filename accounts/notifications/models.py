from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from accounts.notifications.crypto import decrypt_json, encrypt_json


class Kind(models.TextChoices):
    ORDER_FILLED = "order_filled", "Order filled"
    POSITION_OPENED = "position_opened", "Position opened"
    POSITION_CLOSED = "position_closed", "Position closed"
    STOP_LOSS_HIT = "stop_loss_hit", "Stop-loss hit"
    TAKE_PROFIT_HIT = "take_profit_hit", "Take-profit hit"
    TRAILING_STOP_HIT = "trailing_stop_hit", "Trailing stop hit"
    RULE_FIRED = "rule_fired", "Rule fired"
    LISTING_STATE = "listing_state", "Listing state changed"
    RISK_REFUSED = "risk_refused", "Refused by risk limits"
    PRICE_ALERT = "price_alert", "Price alert"
    BACKUP_FAILED = "backup_failed", "Backup failed"
    ERROR = "error", "Error"


class Level(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    created = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class ChannelType(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Signed webhook"
    TELEGRAM = "telegram", "Telegram bot"
    SLACK = "slack", "Slack webhook"


class NotificationChannel(models.Model):
    """Somewhere a user's notifications go. `config` (addresses, URLs, tokens, signing secrets) is
    stored Fernet-encrypted as one JSON object; `kinds` lists the kinds it receives."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels"
    )
    type = models.CharField(max_length=10, choices=ChannelType.choices)
    label = models.CharField(max_length=80)
    enabled = models.BooleanField(default=True)
    config_encrypted = models.TextField(blank=True, editable=False)
    kinds = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.label}"

    @property
    def config(self) -> dict[str, Any]:
        return decrypt_json(self.config_encrypted)

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self.config_encrypted = encrypt_json(value)

    def receives(self, kind: str) -> bool:
        return kind in self.kinds

    @property
    def receives_everything(self) -> bool:
        return set(self.kinds) >= set(Kind.values)

    @property
    def kind_labels(self) -> list[str]:
        labels = dict(Kind.choices)
        return [str(labels[kind]) for kind in self.kinds if kind in labels]


class Delivery(models.Model):
    """One notification sent through one channel. Unique per pair, so a re-run task finds the row
    it already sent; `claimed_until` is a lease that keeps two workers from sending at once, and
    `next_attempt_at` lets a sweeper re-queue a send whose task was lost."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        RATE_LIMITED = "rate_limited", "Rate limited"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, default=timezone.now, help_text="When the pending send is due; empty once done"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel")
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.notification_id} via {self.channel_id}: {self.status}"
