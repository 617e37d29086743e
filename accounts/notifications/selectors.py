from __future__ import annotations

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

from accounts.models import User
from accounts.notifications.models import Delivery, Notification, NotificationChannel
from config.errors import get_owned_or_404


def notification_list(*, user: User, limit: int = 100) -> QuerySet[Notification]:
    """The user's notifications, unread first, then newest first, with their deliveries."""
    unread_first = Case(
        When(read_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    deliveries = Prefetch("deliveries", queryset=Delivery.objects.select_related("channel"))
    return (
        Notification.objects.filter(user=user)
        .order_by(unread_first, "-created", "-id")
        .prefetch_related(deliveries)[:limit]
    )


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user).unread().count()


def notification_get(*, user: User, notification_id: int) -> Notification:
    """One of the user's notifications; 404 for anyone else's, exactly as for a missing one."""
    return get_owned_or_404(Notification.objects.all(), user=user, pk=notification_id)


def channel_list(*, user: User) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(user=user)


def channel_get(*, user: User, channel_id: int) -> NotificationChannel:
    return get_owned_or_404(NotificationChannel.objects.all(), user=user, pk=channel_id)
