"""Live events from processes without sockets to the live process, when there is no Redis.

With REDIS_URL the channel layer carries events between processes. Without it the layer is in
memory and reaches only its own process, and the sockets live in the ASGI "live" process while
pages, the API, Celery and the sniper run elsewhere (issue 18). Those processes (LIVE_FORWARD, set by
`make run`) POST each event to the live process over loopback HTTP; `PublishEndpoint` there checks
the key derived from SECRET_KEY and hands the event to its channel layer, so the process's one
broadcaster writes it to the group's sockets.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

import httpx
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.crypto import salted_hmac

log = logging.getLogger(__name__)

PATH = "/internal/live/publish"
KEY_HEADER = "x-brute-live-key"
MAX_BODY = 256 * 1024

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def publish_key() -> str:
    return salted_hmac("brute.live.publish", "key", algorithm="sha256").hexdigest()


def forwarding() -> bool:
    return bool(settings.LIVE_FORWARD) and not settings.REDIS_URL


def forward(group: str, message: dict[str, Any]) -> None:
    """Hands one group message to the live process; failures are logged, never raised."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(base_url=str(settings.LIVE_INTERNAL_URL), timeout=2.0)
    try:
        _client.post(
            PATH,
            content=json.dumps({"group": group, "message": message}, default=str),
            headers={KEY_HEADER: publish_key(), "content-type": "application/json"},
        ).raise_for_status()
    except httpx.HTTPError:
        log.warning("live event to %s not delivered: the live process did not take it", group, exc_info=True)


class PublishEndpoint:
    """ASGI middleware of the live process: answers PATH, hands every other scope on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.key = publish_key().encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        status = await self._publish(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _publish(self, scope: dict[str, Any], receive: Any) -> int:
        headers = dict(scope.get("headers") or [])
        if scope.get("method") != "POST" or not hmac.compare_digest(
            headers.get(KEY_HEADER.encode(), b""), self.key
        ):
            return 403
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                return 413
            if not message.get("more_body"):
                break
        try:
            event = json.loads(body)
            group, payload = str(event["group"]), dict(event["message"])
        except (ValueError, KeyError, TypeError):
            return 400
        layer = get_channel_layer()
        if layer is not None:
            await layer.group_send(group, payload)
        return 204
