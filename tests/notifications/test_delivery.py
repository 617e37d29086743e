"""Retries, refusals, rate limits and idempotency of one delivery, over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine

from accounts.notifications.models import Delivery, Kind, NotificationChannel
from accounts.notifications.services import delivery_attempt, notification_send
from accounts.notifications.tasks import delivery_send
from tests.notifications.helpers import SECRET, TOKEN, channel, webhook

pytestmark = pytest.mark.django_db


def send(user, capture, title="Stop-loss hit on ETHUSDT"):
    with capture(execute=True):
        return notification_send(user=user, kind="stop_loss_hit", title=title, body="sold at 3100")


@pytest.mark.usefixtures("eager")
def test_it_retries_on_5xx_then_delivers(owner, receiver, django_capture_on_commit_callbacks):
    webhook(owner, receiver)
    receiver.answer(503, "busy")
    receiver.answer(502)
    send(owner, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 3
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 3


@pytest.mark.usefixtures("eager")
def test_it_does_not_retry_a_4xx_and_says_why(owner, receiver, django_capture_on_commit_callbacks):
    webhook(owner, receiver)
    receiver.answer(400, "payload rejected: missing field")
    send(owner, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert delivery.last_error == "HTTP 400: payload rejected: missing field"


@pytest.mark.usefixtures("eager")
def test_a_telegram_refusal_keeps_its_description_but_never_the_token(
    owner, receiver, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = receiver.url
    channel(owner, "telegram", {"bot_token": TOKEN, "chat_id": "42"})
    description = f"Bad Request: chat not found for bot{TOKEN} at {receiver.url}/x?k=1"
    receiver.answer(400, json.dumps({"ok": False, "description": description}))
    send(owner, django_capture_on_commit_callbacks)

    error = Delivery.objects.get().last_error
    assert error.startswith("HTTP 400: Bad Request: chat not found")
    assert TOKEN not in error
    assert TOKEN.split(":")[1] not in error
    assert "127.0.0.1" not in error
    assert "k=1" not in error


def test_429_waits_as_long_as_retry_after_says(owner, receiver):
    hook = webhook(owner, receiver)
    notification = notification_send(user=owner, kind="error", title="t", body="b")
    delivery = Delivery.objects.get(notification=notification, channel=hook)
    receiver.answer(429, "slow down", headers={"Retry-After": "7"})

    outcome = delivery_attempt(delivery_id=delivery.pk)
    assert outcome.retry_in == 7
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == "HTTP 429: rate limited by the receiver"

    assert delivery_attempt(delivery_id=delivery.pk).status == Delivery.Status.SENT
    assert len(receiver.requests) == 2


@pytest.mark.usefixtures("eager")
def test_429_is_retried_by_the_task(owner, receiver, django_capture_on_commit_callbacks):
    webhook(owner, receiver)
    receiver.answer(429, headers={"Retry-After": "1"})
    send(owner, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 2
    assert Delivery.objects.get().status == Delivery.Status.SENT


def test_backoff_grows_exponentially_up_to_a_cap(owner, receiver, settings):
    settings.NOTIFY_RETRY_BACKOFF = 10.0
    settings.NOTIFY_RETRY_BACKOFF_MAX = 60.0
    webhook(owner, receiver)
    notification_send(user=owner, kind="error", title="t", body="b")
    delivery = Delivery.objects.get()
    waits = []
    for _ in range(4):
        receiver.answer(500)
        waits.append(delivery_attempt(delivery_id=delivery.pk).retry_in)
    assert waits == [10.0, 20.0, 40.0, 60.0]


@pytest.mark.usefixtures("eager")
def test_it_gives_up_after_the_attempt_budget_without_leaking_the_url(
    owner, settings, django_capture_on_commit_callbacks
):
    from tests.conftest import free_port

    settings.NOTIFY_MAX_ATTEMPTS = 2
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True  # a loopback port where nothing listens
    channel(owner, "webhook", {"url": f"http://127.0.0.1:{free_port()}/h?token=abc123", "secret": SECRET})
    send(owner, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 2
    assert delivery.last_error.startswith("gave up after 2 attempts: network error (ConnectError)")
    assert "abc123" not in delivery.last_error
    assert "127.0.0.1" not in delivery.last_error


@pytest.mark.usefixtures("eager")
def test_running_the_task_again_after_success_sends_nothing(
    owner, receiver, django_capture_on_commit_callbacks
):
    webhook(owner, receiver)
    send(owner, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()

    assert delivery_send.delay(delivery.pk).get() == "sent"
    assert delivery_send.delay(delivery.pk).get() == "sent"
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_delivery_another_worker_holds_is_left_alone(owner, receiver):
    webhook(owner, receiver)
    notification_send(user=owner, kind="error", title="t", body="b")
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=datetime(2999, 1, 1, tzinfo=UTC))

    assert delivery_attempt(delivery_id=delivery.pk).status == Delivery.Status.PENDING
    assert receiver.requests == []


def test_a_deleted_channel_leaves_nothing_to_send(owner, receiver):
    hook = webhook(owner, receiver)
    notification_send(user=owner, kind="error", title="t", body="b")
    delivery_id = Delivery.objects.get().pk
    hook.delete()

    assert delivery_send.apply(args=(delivery_id,)).get() == "missing"
    assert receiver.requests == []


def test_the_rate_limit_holds_sends_back_and_delivers_them_later(owner, receiver, settings):
    settings.NOTIFY_RATE_LIMITS = {"webhook": 2}
    webhook(owner, receiver)
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC), tick=False) as clock:
        for n in range(3):
            notification_send(user=owner, kind="error", title=f"n{n}", body="")
        deliveries = list(Delivery.objects.order_by("pk"))
        outcomes = [delivery_attempt(delivery_id=d.pk) for d in deliveries]

        assert [o.status for o in outcomes] == ["sent", "sent", "rate_limited"]
        assert outcomes[2].retry_in == 51
        assert [r.json()["title"] for r in receiver.requests] == ["n0", "n1"]
        held = deliveries[2]
        held.refresh_from_db()
        assert held.status == Delivery.Status.RATE_LIMITED
        assert held.attempts == 0

        clock.shift(51)
        assert delivery_attempt(delivery_id=held.pk).status == Delivery.Status.SENT
    assert [r.json()["title"] for r in receiver.requests] == ["n0", "n1", "n2"]


def test_rate_limits_are_counted_per_channel(owner, receiver, settings):
    settings.NOTIFY_RATE_LIMITS = {"webhook": 1}
    webhook(owner, receiver)
    webhook(owner, receiver)
    notification_send(user=owner, kind="error", title="t", body="")
    outcomes = [delivery_attempt(delivery_id=d.pk).status for d in Delivery.objects.all()]
    assert outcomes == ["sent", "sent"]


@pytest.mark.usefixtures("eager")
def test_the_sweeper_requeues_a_lost_send_once(owner, receiver, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.notifications.services import delivery_requeue_overdue

    webhook(owner, receiver)
    notification_send(user=owner, kind="error", title="lost", body="")  # its task never ran
    waiting = notification_send(user=owner, kind="error", title="waiting", body="")
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
    Delivery.objects.filter(notification=waiting).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_requeue_overdue() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_requeue_overdue() == 0

    assert [r.json()["title"] for r in receiver.requests] == ["lost"]
    sent = Delivery.objects.exclude(notification=waiting).get()
    assert sent.status == Delivery.Status.SENT
    assert sent.next_attempt_at is None


def test_a_urls_password_never_shows_in_a_delivery_error(owner, receiver):
    """A channel saved before credentials were refused in URLs: its password is sent (as Basic auth)
    but a refusal that repeats it is stored without it."""

    address = receiver.url.removeprefix("http://")
    NotificationChannel(
        user=owner,
        type="webhook",
        label="old",
        kinds=list(Kind.values),
        config={"url": f"http://alice:hunter2pass@{address}/in", "secret": SECRET},
    ).save()
    receiver.answer(401, '{"error": "wrong password hunter2pass for alice"}')
    notification_send(user=owner, kind="error", title="t", body="")
    delivery = Delivery.objects.get()

    delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert receiver.requests[0].headers["authorization"].startswith("Basic ")
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("HTTP 401: wrong password ")
    assert "hunter2pass" not in delivery.last_error
