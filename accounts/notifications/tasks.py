from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from accounts.notifications.services import delivery_attempt, delivery_requeue_overdue


# max_retries=None: the attempt budget (NOTIFY_MAX_ATTEMPTS) is counted on the Delivery row, so that
# waiting out a rate limit, which is not a failure, never uses it up.
@shared_task(
    bind=True,
    name="notifications.delivery_send",
    max_retries=None,
    time_limit=60,
    soft_time_limit=50,
    acks_late=True,
)
def delivery_send(self: Task[Any, Any], delivery_id: int) -> str:
    outcome = delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is None:
        return outcome.status
    if self.request.is_eager and outcome.status == "rate_limited":
        # Eager mode ignores countdowns, so retrying now would spin; the row stays rate_limited.
        return outcome.status
    raise self.retry(countdown=outcome.retry_in)


@shared_task(name="notifications.deliveries_requeue", time_limit=60, soft_time_limit=50)
def deliveries_requeue() -> int:
    """Periodic (config/schedule.py): re-queue sends whose task was lost."""
    return delivery_requeue_overdue()
