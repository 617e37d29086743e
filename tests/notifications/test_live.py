"""The live push through the real socket consumer, as a page receives it."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from accounts.notifications.services import live_payload, notification_send
from tests.conftest import Communicator
from trading.consumers import LiveConsumer

pytestmark = pytest.mark.django_db


def test_a_page_socket_receives_the_notification_payload(owner, other, django_capture_on_commit_callbacks):
    def send(user):
        with django_capture_on_commit_callbacks(execute=True):
            return notification_send(user=user, kind="rule_fired", title="Rule fired", body="buy dip")

    async def scenario():
        socket = Communicator(LiveConsumer.as_asgi(), "/ws/live/")
        socket.scope["user"] = owner
        connected, _ = await socket.connect()
        assert connected
        assert (await socket.receive_json_from())["type"] == "subscribed"
        await sync_to_async(send)(other)
        mine = await sync_to_async(send)(owner)
        frame = await socket.receive_json_from()
        await socket.disconnect()
        return mine, frame

    notification, frame = async_to_sync(scenario)()
    assert frame == live_payload(notification)
    assert frame["type"] == "notification"
