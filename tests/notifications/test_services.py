from __future__ import annotations

import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.notifications import tasks
from accounts.notifications.channels import ConfigError, mask
from accounts.notifications.models import Delivery, Notification, NotificationChannel
from accounts.notifications.services import (
    NotificationDraft,
    channel_create,
    delivery_attempt,
    notification_mark_all_read,
    notification_send,
    notification_send_many,
    operator_notify,
)
from config.errors import InvalidInput
from tests.factories import UserFactory
from tests.notifications.helpers import SECRET, TOKEN, channel, webhook

pytestmark = pytest.mark.django_db


def test_the_live_push_reaches_the_users_group_after_commit(owner, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    socket = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"user.{owner.pk}", socket)

    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_send(
            user=owner,
            kind="position_closed",
            title="Closed BTCUSDT",
            body="P&L +12.50 USDT",
            data={"pnl": Decimal("12.50")},
            level="success",
        )

    message = async_to_sync(layer.receive)(socket)
    assert message["type"] == "live.text"
    assert json.loads(message["text"]) == {
        "type": "notification",
        "id": notification.pk,
        "kind": "position_closed",
        "title": "Closed BTCUSDT",
        "body": "P&L +12.50 USDT",
        "level": "success",
        "created": notification.created.isoformat(),
    }


def test_nothing_leaves_when_the_callers_transaction_rolls_back(
    owner, receiver, django_capture_on_commit_callbacks
):
    webhook(owner, receiver)

    def place_order_that_fails() -> None:
        with transaction.atomic():
            notification_send(user=owner, kind="order_filled", title="t", body="b")
            raise RuntimeError("the order failed after all")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        place_order_that_fails()
    assert callbacks == []
    assert not Notification.objects.exists()


def test_it_queues_one_delivery_per_enabled_subscribed_channel(
    owner, receiver, django_capture_on_commit_callbacks
):
    wanted = webhook(owner, receiver, kinds=["order_filled"])
    webhook(owner, receiver, kinds=["position_closed"])
    disabled = webhook(owner, receiver)
    disabled.enabled = False
    disabled.save()

    with django_capture_on_commit_callbacks() as callbacks:
        notification = notification_send(user=owner, kind="order_filled", title="t", body="b")

    assert [d.channel for d in notification.deliveries.all()] == [wanted]
    assert len(callbacks) == 2  # the live push and one delivery task


def test_several_are_sent_in_order_with_one_read_of_channels_and_deliveries_after_commit(
    owner, other, receiver, django_capture_on_commit_callbacks
):
    wanted = webhook(owner, receiver, kinds=["order_filled"])
    webhook(other, receiver, kinds=["position_closed"])
    drafts = [
        NotificationDraft(user=owner, kind="order_filled", title="one", body=""),
        NotificationDraft(user=other, kind="order_filled", title="two", body=""),
        NotificationDraft(user=owner, kind="error", title="three", body="", level="error"),
    ]

    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as queries:
        sent = notification_send_many(drafts=drafts)

    assert [(n.user, n.title, n.level) for n in sent] == [(d.user, d.title, d.level) for d in drafts]
    assert [q["sql"].split()[0] for q in queries].count("SELECT") == 1
    assert [d.channel for n in sent for d in n.deliveries.all()] == [wanted]
    assert len(callbacks) == 4  # three live pushes and one delivery task
    assert Notification.objects.filter(pk__in=[n.pk for n in sent]).count() == 3


def test_several_with_one_unknown_kind_write_nothing(owner):
    drafts = [
        NotificationDraft(user=owner, kind="error", title="fine", body=""),
        NotificationDraft(user=owner, kind="nope", title="unknown", body=""),
    ]
    with pytest.raises(InvalidInput):
        notification_send_many(drafts=drafts)
    assert not Notification.objects.exists()


def test_data_with_decimals_is_stored_as_json(owner):
    notification = notification_send(
        user=owner, kind="order_filled", title="t", body="", data={"q": Decimal("0.1")}
    )
    notification.refresh_from_db()
    assert notification.data == {"q": "0.1"}


@pytest.mark.parametrize(("field", "value"), [("kind", "nope"), ("level", "loud")])
def test_it_refuses_unknown_kinds_and_levels(owner, field, value):
    fields = {"kind": "error", "level": "info", field: value}
    with pytest.raises(InvalidInput):
        notification_send(user=owner, title="t", body="b", **fields)


def test_operator_notify_reaches_every_active_operator_only(operator):
    UserFactory(role=Role.TRADER)
    UserFactory(role=Role.ADMIN, is_active=False)
    second = UserFactory(role=Role.ADMIN)

    sent = operator_notify(kind="backup_failed", title="Backup failed", body="disk full")

    assert {n.user for n in sent} == {operator, second}
    assert all(n.level == "error" for n in sent)


def test_mark_all_read_touches_only_that_users_notifications(owner, other):
    notification_send(user=owner, kind="error", title="a", body="")
    notification_send(user=other, kind="error", title="b", body="")
    assert notification_mark_all_read(user=owner) == 1
    assert Notification.objects.get(user=other).read_at is None


def test_channel_secrets_are_encrypted_at_rest(owner, receiver):
    hook = webhook(owner, receiver)
    bot = channel(owner, "telegram", {"bot_token": TOKEN, "chat_id": "42"})
    raw = list(NotificationChannel.objects.values_list("config_encrypted", flat=True))
    assert not any(SECRET in value or TOKEN in value or "127.0.0.1" in value for value in raw)
    assert NotificationChannel.objects.get(pk=hook.pk).config["secret"] == SECRET
    assert NotificationChannel.objects.get(pk=bot.pk).config["bot_token"] == TOKEN


def test_masked_settings_show_only_the_last_characters(owner):
    hook = channel(
        owner, "webhook", {"url": "https://example.com/in/abcdef123456?key=zz99", "secret": SECRET}
    )
    shown = " ".join(value for _, value in mask(hook.type, hook.config))
    assert SECRET not in shown
    assert "abcdef" not in shown
    assert "example.com" in shown
    assert shown.endswith(SECRET[-4:])


@pytest.mark.parametrize(
    ("type_", "config", "field"),
    [
        ("webhook", {"url": "ftp://x", "secret": SECRET}, "url"),
        ("webhook", {"url": "https://x.example", "secret": "short"}, "secret"),
        ("telegram", {"bot_token": "nope", "chat_id": "1"}, "bot_token"),
        ("telegram", {"bot_token": TOKEN, "chat_id": "chat"}, "chat_id"),
        ("slack", {"url": ""}, "url"),
        ("email", {"address": "not-an-address"}, "address"),
    ],
)
def test_it_names_the_setting_that_is_wrong(owner, type_, config, field):
    with pytest.raises(ConfigError) as caught:
        channel_create(user=owner, type=type_, label="x", kinds=["error"], config=config)
    assert caught.value.field == field
    assert not NotificationChannel.objects.exists()


def test_a_channel_needs_at_least_one_kind(owner):
    with pytest.raises(InvalidInput):
        channel_create(user=owner, type="email", label="x", kinds=[], config={})
    assert not Delivery.objects.exists()


def test_private_addresses_are_refused_when_not_allowed(owner, receiver, settings):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ConfigError) as caught:
        channel_create(user=owner, type="slack", label="x", kinds=["error"], config={"url": receiver.url})
    assert caught.value.field == "url"

    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    hook = webhook(owner, receiver)
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    notification_send(user=owner, kind="error", title="t", body="")
    assert delivery_attempt(delivery_id=Delivery.objects.get(channel=hook).pk).status == "failed"
    assert Delivery.objects.get().last_error == "the address is on a private network, which is not allowed"
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_broker_down_at_commit_is_logged_and_the_notification_kept(owner, receiver, monkeypatch, caplog):
    webhook(owner, receiver)

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError("the broker is down")

    monkeypatch.setattr(tasks.delivery_send, "delay", broker_down)
    notification = notification_send(user=owner, kind="order_filled", title="Filled", body="b")

    assert Notification.objects.filter(pk=notification.pk).exists()
    assert Delivery.objects.filter(notification=notification).count() == 1
    assert "Error calling _queue_delivery in on_commit()" in caplog.text


def test_a_config_error_names_every_wrong_setting(owner, settings):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(ConfigError) as caught:
        channel_create(
            user=owner,
            type="webhook",
            label="x",
            kinds=["error"],
            config={"url": "http://[::1]/", "secret": "x"},
        )
    assert caught.value.errors == {
        "url": "This address is on a private network, which this installation does not allow.",
        "secret": "The signing secret must be at least 16 characters.",
    }
