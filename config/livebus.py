"""Live events from processes without sockets to the live process, when there is no Redis.

With REDIS_URL the channel layer carries events between processes. Without it the layer is in
memory and reaches only its own process, and the sockets live in the ASGI "live" process while
pages, the API, Celery and the sniper run elsewhere (issue 18). Those processes (LIVE_FORWARD, set by
`make run`) POST each event to the live process over loopback HTTP; `PublishEndpoint` there checks
the key derived from SECRET_KEY and hands the event to its channel layer, so the process's one
broadcaster writes it to the group's sockets.

`forward` never waits: it queues the event and returns. One sender thread per process posts what is
queued, in order, as one batch per request ({"events": [{"group", "message"}, ...]}), so a request
thread never blocks on the live process, and under load many events share one post (issue 11: three
blocking posts per paper order had cost the web workers about a third of their time). The queue is
bounded (MAX_PENDING): with the live process gone, the oldest events are dropped and counted in the
log rather than held without limit; a page re-reads the current state when its socket reconnects.
`flush()` waits until the queue is empty (tests; the process's exit waits up to EXIT_FLUSH_S).
"""

from __future__ import annotations

import atexit
import collections
import hmac
import http.client
import json
import logging
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from channels.layers import get_channel_layer
from django.conf import settings
from django.utils.crypto import salted_hmac

log = logging.getLogger(__name__)

PATH = "/internal/live/publish"
KEY_HEADER = "x-brute-live-key"
MAX_BODY = 256 * 1024

_client: http.client.HTTPConnection | None = None
_client_lock = threading.Lock()
MAX_PENDING = 10_000  # events queued for the live process before the oldest are dropped
BATCH_BYTES = MAX_BODY // 2  # a batch is posted once its encoded events pass this size
EXIT_FLUSH_S = 2.0
TIMEOUT_S = 2.0  # a post the live process has not answered by then is given up (and logged)


def publish_key() -> str:
    return salted_hmac("brute.live.publish", "key", algorithm="sha256").hexdigest()


def forwarding() -> bool:
    return bool(settings.LIVE_FORWARD) and not settings.REDIS_URL


def forward(group: str, message: dict[str, Any]) -> None:
    """Queues one group message for the live process and returns at once; the sender thread posts
    it (see the module doc). Never raises; a failed post is logged there."""
    _sender.put(group, message)


def flush(timeout: float = 5.0) -> bool:
    """Waits until every queued event has been posted (or its post failed); False on timeout."""
    return _sender.flush(timeout)


def _connection() -> http.client.HTTPConnection:
    """The sender's kept-alive connection to the live process (a plain `http.client` one: an
    httpx request cost the sender thread about 1 ms of CPU, issue 11)."""
    global _client
    with _client_lock:
        if _client is None:
            url = urlsplit(str(settings.LIVE_INTERNAL_URL))
            kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
            _client = kind(url.hostname or "127.0.0.1", url.port, timeout=TIMEOUT_S)
        return _client


def _post(events: list[str]) -> None:
    body = ('{"events":[' + ",".join(events) + "]}").encode()
    headers = {KEY_HEADER: publish_key(), "content-type": "application/json"}
    connection = _connection()
    # A kept-alive connection the live process closed fails at once; it is retried on a new one.
    # A connection opened for this post is not: its failure is the live process's.
    reused = connection.sock is not None
    try:
        try:
            status = _exchange(connection, body, headers)
        except STALE:
            if not reused:
                raise
            status = _exchange(connection, body, headers)
    except (OSError, http.client.HTTPException):
        connection.close()
        log.warning(
            "%d live events not delivered: the live process did not take them", len(events), exc_info=True
        )
        return
    if status >= 300:
        log.warning("%d live events not delivered: the live process answered %d", len(events), status)


STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def _exchange(connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> int:
    try:
        connection.request("POST", PATH, body, headers)
        answer = connection.getresponse()
        answer.read()
    except BaseException:
        connection.close()  # the next request opens a new connection
        raise
    return int(answer.status)


class _Sender:
    """The process's one sender thread and its queue of (group, message) events."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._posting = False
        self.dropped = 0

    def put(self, group: str, message: dict[str, Any]) -> None:
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # Started here, not at import: a forked child (gunicorn's workers) starts its own.
                self._pid, self._posting = os.getpid(), False
                self._thread = threading.Thread(target=self._run, name="livebus", daemon=True)
                self._thread.start()
            if len(self._queue) >= MAX_PENDING:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped in (1, 10) or self.dropped % 1000 == 0:
                    log.warning(
                        "live events dropped: the live process is not taking them (%d so far)", self.dropped
                    )
            self._queue.append((group, message))
            self._cond.notify()

    def flush(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._posting, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue))
                taken = list(self._queue)
                self._queue.clear()
                self._posting = True
            try:
                self._send(taken)
            except Exception:  # never let the thread die: the next event would start another anyway
                log.exception("live events not delivered")
            finally:
                with self._cond:
                    self._posting = False
                    self._cond.notify_all()

    @staticmethod
    def _send(taken: list[tuple[str, dict[str, Any]]]) -> None:
        batch: list[str] = []
        size = 0
        for group, message in taken:
            event = json.dumps({"group": group, "message": message}, default=str)
            if len(event) > MAX_BODY - 64:
                log.warning("a live event to %s is too large to forward (%d bytes)", group, len(event))
                continue
            if batch and size + len(event) > BATCH_BYTES:
                _post(batch)
                batch, size = [], 0
            batch.append(event)
            size += len(event) + 1
        if batch:
            _post(batch)


_sender = _Sender()
atexit.register(lambda: _sender.flush(EXIT_FLUSH_S))


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
            listed = event["events"] if isinstance(event, dict) and "events" in event else [event]
            events = [(str(e["group"]), dict(e["message"])) for e in listed]
        except (ValueError, KeyError, TypeError):
            return 400
        layer = get_channel_layer()
        if layer is not None:
            for group, payload in events:  # in the order they were sent
                await layer.group_send(group, payload)
        return 204
