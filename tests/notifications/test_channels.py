"""Each channel against a local receiver over real HTTP (email through Django's locmem outbox)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core import mail

from accounts.notifications.models import Delivery
from accounts.notifications.services import notification_send
from tests.notifications.helpers import SECRET, TOKEN, channel, webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]


def send(user, django_capture_on_commit_callbacks, **kwargs):
    fields = {"kind": "order_filled", "title": "Bought 0.5 BTC", "body": "at 64000 USDT", **kwargs}
    with django_capture_on_commit_callbacks(execute=True):
        return notification_send(user=user, **fields)


def test_webhook_posts_json_signed_with_hmac_sha256(owner, receiver, django_capture_on_commit_callbacks):
    webhook(owner, receiver)
    notification = send(owner, django_capture_on_commit_callbacks, data={"qty": "0.5"})

    [request] = receiver.requests
    assert request.path == "/hooks/brute"
    assert request.headers["content-type"] == "application/json"
    parts = dict(item.split("=", 1) for item in request.headers["x-brute-signature"].split(","))
    signed = parts["t"].encode() + b"." + request.body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    payload = request.json()
    assert payload["id"] == notification.pk
    assert payload["kind"] == "order_filled"
    assert payload["title"] == "Bought 0.5 BTC"
    assert payload["data"] == {"qty": "0.5"}
    assert "recipient_email" not in payload
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None


def test_telegram_calls_send_message_with_the_chat_and_text(
    owner, receiver, settings, django_capture_on_commit_callbacks
):
    settings.TELEGRAM_API_BASE = receiver.url
    channel(owner, "telegram", {"bot_token": TOKEN, "chat_id": "-1001234567890"})
    send(owner, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    assert request.path == f"/bot{TOKEN}/sendMessage"
    payload = request.json()
    assert payload["chat_id"] == "-1001234567890"
    assert payload["text"] == "Bought 0.5 BTC\n\nat 64000 USDT"


def test_slack_posts_text_to_the_incoming_webhook(owner, receiver, django_capture_on_commit_callbacks):
    channel(owner, "slack", {"url": f"{receiver.url}/services/T000/B000/XXXX"})
    send(owner, django_capture_on_commit_callbacks)

    [request] = receiver.requests
    assert request.path == "/services/T000/B000/XXXX"
    assert request.json() == {"text": "*Bought 0.5 BTC*\nat 64000 USDT"}


def test_email_goes_to_the_account_address_by_default(owner, django_capture_on_commit_callbacks):
    channel(owner, "email", {"address": ""})
    send(owner, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert message.to == ["owner@example.com"]
    assert message.subject == "[Brute] Bought 0.5 BTC"
    assert message.body == "at 64000 USDT"


def test_email_goes_to_the_address_the_channel_names(owner, django_capture_on_commit_callbacks):
    channel(owner, "email", {"address": "desk@example.com"})
    send(owner, django_capture_on_commit_callbacks)

    assert [m.to for m in mail.outbox] == [["desk@example.com"]]


def test_a_channel_receives_only_the_kinds_it_chose(owner, receiver, django_capture_on_commit_callbacks):
    webhook(owner, receiver, kinds=["position_closed"])
    send(owner, django_capture_on_commit_callbacks, kind="order_filled")
    send(owner, django_capture_on_commit_callbacks, kind="position_closed")

    assert [r.json()["kind"] for r in receiver.requests] == ["position_closed"]
