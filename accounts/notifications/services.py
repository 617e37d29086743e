"""Notifications: the one way the rest of Brute tells a person something.

Other apps call `notification_send` (`notification_send_many` for several at once, or
`operator_notify`); it stores the notification, pushes it to the user's open pages and queues one
delivery per chosen channel, all after the transaction commits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.notifications import channels
from accounts.notifications.models import (
    ChannelType,
    Delivery,
    Kind,
    Level,
    Notification,
    NotificationChannel,
)
from config.enqueue import task_queue
from config.errors import BruteError, InvalidInput
from config.prepared import PreparedInsert, PreparedSelect
from config.realtime import LIVE_TEXT, send_now, user_group

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)
DEFAULT_RATE_LIMITS = {"email": 10, "webhook": 60, "telegram": 20, "slack": 20}


# --- Notifications ------------------------------------------------------------------------------


def notification_send(
    *,
    user: User,
    kind: str,
    title: str,
    body: str,
    data: dict[str, Any] | None = None,
    level: str = Level.INFO,
) -> Notification:
    """Notify `user`: stored for the notification centre, pushed live to their open pages, and sent
    by each enabled channel that subscribes to `kind`, by Celery with retries. Safe inside a caller's
    transaction: nothing leaves the process unless it commits. Raises InvalidInput for an unknown
    kind or level."""
    draft = NotificationDraft(user=user, kind=kind, title=title, body=body, data=data, level=level)
    return notification_send_many(drafts=[draft])[0]


@dataclass(frozen=True)
class NotificationDraft:
    """One notification to send: the arguments of `notification_send`."""

    user: User
    kind: str
    title: str
    body: str
    data: dict[str, Any] | None = None
    level: str = Level.INFO


def notification_send_many(*, drafts: Sequence[NotificationDraft]) -> list[Notification]:
    """`notification_send` for each of `drafts`, in one transaction (a savepoint inside a caller's)
    with one read of the channels of all their users: the stored notifications, in order. The live
    push and the channel deliveries of each leave after the commit, as `notification_send`'s do.
    Raises InvalidInput for an unknown kind or level, before anything is written."""
    for draft in drafts:
        if draft.kind not in Kind.values:
            raise InvalidInput(f"Unknown notification kind {draft.kind!r}.")
        if draft.level not in Level.values:
            raise InvalidInput(f"Unknown notification level {draft.level!r}.")
    notifications = []
    with transaction.atomic():
        channels_of = _channels_enabled(sorted({draft.user.pk for draft in drafts}))
        for draft in drafts:
            notification = _NOTIFICATION_INSERT.insert(
                Notification(
                    user=draft.user,
                    kind=draft.kind,
                    title=draft.title[:200],
                    body=draft.body,
                    data=draft.data or {},
                    level=draft.level,
                )
            )
            deliveries = [
                _DELIVERY_INSERT.insert(Delivery(notification=notification, channel_id=channel))
                for channel, kinds in channels_of.get(draft.user.pk, [])
                if draft.kind in kinds
            ]
            # robust: a broker that is down must not turn the caller's committed work into an error.
            _after_commit(_push_live, notification)
            for delivery in deliveries:
                _after_commit(_queue_delivery, delivery.pk)
            notifications.append(notification)
    return notifications


# Every order that fills writes a notification (issue 11): its rows go in with SQL written once.
_NOTIFICATION_INSERT = PreparedInsert(Notification)
_DELIVERY_INSERT = PreparedInsert(Delivery)


_CHANNELS_ENABLED = PreparedSelect(
    NotificationChannel,
    ["user", "id", "kinds"],
    where=["enabled"],
    where_in=["user"],
    order_by=["created", "id"],
)


def _channels_enabled(user_ids: list[int]) -> dict[int, list[tuple[int, list[str]]]]:
    """{user id: [(channel id, kinds it receives)]} of the users' enabled channels, oldest first: one
    read of three columns (most users have none), without building the channels and their
    encrypted settings."""
    found: dict[int, list[tuple[int, list[str]]]] = {}
    for user_id, pk, kinds in _CHANNELS_ENABLED.rows(True, user_ids):
        found.setdefault(user_id, []).append((pk, kinds or []))
    return found


def operator_notify(
    *, kind: str, title: str, body: str, data: dict[str, Any] | None = None, level: str = Level.ERROR
) -> list[Notification]:
    """Notify every active operator (admin role), e.g. of a failed backup."""
    operators = User.objects.filter(role=Role.ADMIN, is_active=True)
    return notification_send_many(
        drafts=[
            NotificationDraft(user=user, kind=kind, title=title, body=body, data=data, level=level)
            for user in operators
        ]
    )


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user).unread().update(read_at=timezone.now())


def live_payload(notification: Notification) -> dict[str, Any]:
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "level": notification.level,
        "created": notification.created.isoformat(),
    }


def _after_commit(func: Callable[..., None], *args: Any) -> None:
    """Run `func(*args)` once the transaction commits; a failure is logged, never raised into the
    committed caller (Django's `robust=True`). A plain closure, not `functools.partial`: Django logs a
    failing callback by its `__qualname__`, which a partial lacks, so the log line itself would raise."""

    def callback() -> None:
        func(*args)

    callback.__qualname__ = func.__qualname__
    transaction.on_commit(callback, robust=True)


def _push_live(notification: Notification) -> None:
    send_now(
        user_group(notification.user_id), {"type": LIVE_TEXT, "text": json.dumps(live_payload(notification))}
    )


def _queue_delivery(delivery_id: int) -> None:
    task_queue("notifications.delivery_send", delivery_id)


# --- Channels -----------------------------------------------------------------------------------


def channel_create(
    *, user: User, type: str, label: str, kinds: list[str], config: dict[str, Any]
) -> NotificationChannel:
    if type not in ChannelType.values:
        raise InvalidInput(f"Unknown channel type {type!r}.")
    unknown = set(kinds) - set(Kind.values)
    if unknown:
        raise InvalidInput(f"Unknown notification kinds: {', '.join(sorted(unknown))}.")
    if not kinds:
        raise InvalidInput("Choose at least one kind of notification for this channel.")
    channel = NotificationChannel(user=user, type=type, label=label.strip()[:80] or str(type), kinds=kinds)
    channel.config = channels.VALIDATORS[type](config)  # raises ConfigError naming the field
    channel.save()
    return channel


def channel_set_enabled(*, channel: NotificationChannel, enabled: bool) -> NotificationChannel:
    channel.enabled = enabled
    channel.save(update_fields=["enabled"])
    return channel


def channel_delete(*, channel: NotificationChannel) -> None:
    channel.delete()


def channel_test(*, channel: NotificationChannel) -> None:
    """Send a test message through this channel now, so the person sees at once whether it works.
    Raises BruteError with a readable reason when it does not."""
    if rate_limit_take(channel=channel) is not None:
        raise BruteError("This channel is at its rate limit; try again in a minute.", code="rate_limited")
    message = channels.Message(
        id=0,
        kind="test",
        title="Test notification from Brute",
        body=f"If you can read this, the channel “{channel.label}” works.",
        level=Level.INFO,
        created=timezone.now().isoformat(),
        recipient_email=channel.user.email,
    )
    try:
        channels.SENDERS[channel.type](channel.config, message)
    except channels.DeliveryError as exc:
        raise BruteError(f"The test did not go through: {exc.reason}") from None


# --- Delivery -----------------------------------------------------------------------------------


def rate_limit_take(*, channel: NotificationChannel) -> float | None:
    """Take one send from the channel's per-minute allowance: None when allowed, else the seconds
    until the next window opens. A fixed one-minute window counted with the cache's incr (atomic on
    Redis; on the file cache two processes can both squeeze in at the boundary)."""
    limits = {**DEFAULT_RATE_LIMITS, **settings.NOTIFY_RATE_LIMITS}
    limit = int(limits.get(channel.type, 20))
    now = time.time()
    window = int(now // 60)
    key = f"notify:rate:{channel.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        count = 1
    if count <= limit:
        return None
    return (window + 1) * 60 - now + 1


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to. `retry_in` is set when the task should run again later."""

    status: str
    retry_in: float | None = None


def retry_backoff(attempts: int) -> float:
    base = settings.NOTIFY_RETRY_BACKOFF
    ceiling = settings.NOTIFY_RETRY_BACKOFF_MAX
    return min(base * 2.0 ** max(attempts - 1, 0), ceiling)


def delivery_attempt(*, delivery_id: int) -> Outcome:
    """Try to send one delivery. Does nothing for one already sent or failed, or one another worker
    holds (the lease); leaves it pending with a retry time on a network error, 5xx or 429, and marks it
    failed on a 4xx or once NOTIFY_MAX_ATTEMPTS is spent."""
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.RATE_LIMITED]
    ).exclude(claimed_until__gt=now)
    if not claimed.update(claimed_until=now + CLAIM_LEASE):
        status = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return Outcome(status or "missing")
    delivery = Delivery.objects.select_related("notification__user", "channel").get(pk=delivery_id)
    if not delivery.channel.enabled:
        return _finish(delivery, Delivery.Status.FAILED, "the channel was disabled before sending")
    wait = rate_limit_take(channel=delivery.channel)
    if wait is not None:
        _finish(delivery, Delivery.Status.RATE_LIMITED, "", retry_in=wait)
        return Outcome(Delivery.Status.RATE_LIMITED, retry_in=wait)
    return _send(delivery)


def _send(delivery: Delivery) -> Outcome:
    delivery.attempts += 1
    delivery.save(update_fields=["attempts"])
    try:
        channels.SENDERS[delivery.channel.type](delivery.channel.config, _message(delivery.notification))
    except channels.DeliveryError as exc:
        max_attempts = settings.NOTIFY_MAX_ATTEMPTS
        if not exc.retryable:
            return _finish(delivery, Delivery.Status.FAILED, exc.reason)
        if delivery.attempts >= max_attempts:
            reason = f"gave up after {delivery.attempts} attempts: {exc.reason}"
            return _finish(delivery, Delivery.Status.FAILED, reason)
        wait = exc.retry_after if exc.retry_after is not None else retry_backoff(delivery.attempts)
        _finish(delivery, Delivery.Status.PENDING, exc.reason, retry_in=wait)
        return Outcome(Delivery.Status.PENDING, retry_in=wait)
    delivery.sent_at = timezone.now()
    return _finish(delivery, Delivery.Status.SENT, "")


def _finish(delivery: Delivery, status: str, error: str, *, retry_in: float | None = None) -> Outcome:
    delivery.status = status
    delivery.last_error = error[:300]
    delivery.claimed_until = None
    delivery.next_attempt_at = None if retry_in is None else timezone.now() + timedelta(seconds=retry_in)
    delivery.save(update_fields=["status", "last_error", "claimed_until", "next_attempt_at", "sent_at"])
    return Outcome(status)


def delivery_requeue_overdue(*, grace: timedelta = timedelta(minutes=5)) -> int:
    """Queue again the sends that should have happened more than `grace` ago but did not (a task lost
    with a broker or a worker). Safe to overlap with the original task: the lease and the status
    checks in delivery_attempt let only one of them send."""
    now = timezone.now()
    overdue = Delivery.objects.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.RATE_LIMITED], next_attempt_at__lt=now - grace
    ).exclude(claimed_until__gt=now)
    ids = list(overdue.values_list("pk", flat=True)[:500])
    with transaction.atomic():
        # Pushed forward so the next sweep does not queue them again while these tasks wait their turn.
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now + grace)
        for delivery_id in ids:
            _after_commit(_queue_delivery, delivery_id)
    return len(ids)


def _message(notification: Notification) -> channels.Message:
    return channels.Message(
        id=notification.pk,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        level=notification.level,
        created=notification.created.isoformat(),
        data=notification.data,
        recipient_email=notification.user.email,
    )
