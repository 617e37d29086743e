"""A live socket ends with the sign-in that opened it: signing out, or signing out everywhere,
closes it (4401) and its user's private events stop reaching it."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from django.conf import settings
from django.test import Client

from config.realtime import publish_text, user_group
from config.routing import websocket_urlpatterns
from tests.conftest import Communicator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


@pytest.fixture(autouse=True)
def _quick_session_checks(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WS_SESSION_CHECK_S = 0.1


@sync_to_async
def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def open_socket(client: Client) -> Communicator:
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    communicator = Communicator(application, "/ws/live/", headers=[(b"cookie", cookie.encode())])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    return communicator


async def private_event_reaches(communicator: Communicator, user: Any) -> bool:
    await publish_text(get_channel_layer(), user_group(user.pk), '{"type":"notification","n":1}')
    return not await communicator.receive_nothing(timeout=1.0)


async def test_signing_out_closes_that_sessions_socket():
    user = await sync_to_async(UserFactory)()
    client = await signed_in(user)
    socket = await open_socket(client)
    assert await private_event_reaches(socket, user)
    assert await socket.receive_from()

    await sync_to_async(client.post)("/accounts/logout/")

    closed = await socket.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": 4401}
    await publish_text(get_channel_layer(), user_group(user.pk), '{"type":"notification","n":2}')
    assert await socket.receive_nothing(timeout=1.0)


async def test_signing_out_everywhere_closes_the_other_sessions_sockets():
    user = await sync_to_async(UserFactory)()
    elsewhere, here = await signed_in(user), await signed_in(user)
    other_socket = await open_socket(elsewhere)

    response = await sync_to_async(here.post)("/accounts/sign-out-everywhere/")
    assert response.status_code == 302

    assert await other_socket.receive_output(timeout=10) == {"type": "websocket.close", "code": 4401}
    await publish_text(get_channel_layer(), user_group(user.pk), '{"type":"notification","n":2}')
    assert await other_socket.receive_nothing(timeout=1.0)
    # This browser stays signed in (its session was renewed): the page it lands on opens a new socket.
    fresh = await open_socket(here)
    assert await private_event_reaches(fresh, user)
    await fresh.disconnect()


async def test_a_socket_whose_session_lives_stays_open():
    user = await sync_to_async(UserFactory)()
    socket = await open_socket(await signed_in(user))
    assert await socket.receive_nothing(timeout=0.5)
    assert await private_event_reaches(socket, user)
    await socket.disconnect()
