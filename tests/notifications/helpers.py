from __future__ import annotations

from typing import Any

from accounts.notifications.models import Kind, NotificationChannel
from accounts.notifications.services import channel_create

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "whsec_test_secret_0123456789"


def channel(
    user: Any, type: str, config: dict[str, Any], kinds: list[str] | None = None
) -> NotificationChannel:
    return channel_create(user=user, type=type, label=type, kinds=kinds or list(Kind.values), config=config)


def webhook(user: Any, receiver: Any, **kwargs: Any) -> NotificationChannel:
    return channel(user, "webhook", {"url": f"{receiver.url}/hooks/brute", "secret": SECRET}, **kwargs)
