"""Without Redis, processes without sockets hand live events to the live process (config/livebus.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from channels.layers import get_channel_layer

from config import livebus
from config.realtime import send_now
from trading.broadcast import Socket, hub


async def call(app: Any, *, key: str, body: bytes, method: str = "POST") -> int:
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "path": livebus.PATH,
        "method": method,
        "headers": [(livebus.KEY_HEADER.encode(), key.encode())],
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def not_django(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the endpoint must answer its own path")


async def test_the_live_process_takes_an_event_with_the_key_and_writes_it_to_the_group():
    frames: list[dict[str, Any]] = []

    async def browser(message: dict[str, Any]) -> None:
        frames.append(message)

    await hub().join("user.7", Socket(browser))
    endpoint = livebus.PublishEndpoint(not_django)
    event = {"group": "user.7", "message": {"type": "balance.changed", "mode": "paper"}}
    assert await call(endpoint, key=livebus.publish_key(), body=json.dumps(event).encode()) == 204
    for _ in range(20):
        if frames:
            break
        await asyncio.sleep(0.01)
    assert [json.loads(f["text"]) for f in frames] == [{"type": "balance.changed", "mode": "paper"}]


async def test_a_wrong_key_or_a_bad_body_is_refused():
    endpoint = livebus.PublishEndpoint(not_django)
    body = json.dumps({"group": "user.7", "message": {"type": "x"}}).encode()
    assert await call(endpoint, key="guess", body=body) == 403
    assert await call(endpoint, key=livebus.publish_key(), body=body, method="GET") == 403
    assert await call(endpoint, key=livebus.publish_key(), body=b"not json") == 400
    assert await call(endpoint, key=livebus.publish_key(), body=b"x" * (livebus.MAX_BODY + 1)) == 413
    assert get_channel_layer() is not None


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Recorder.seen.append((self.path, self.headers[livebus.KEY_HEADER], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def live_process(settings: Any) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.LIVE_FORWARD, settings.REDIS_URL = True, None
    settings.LIVE_INTERNAL_URL = f"http://127.0.0.1:{server.server_address[1]}"
    livebus._client = None
    Recorder.seen = []
    yield Recorder.seen
    server.shutdown()
    livebus._client = None


def test_with_live_forward_a_service_event_goes_to_the_live_process(live_process):
    send_now("user.3", {"type": "account.changed"})
    assert livebus.flush()
    assert live_process == [
        (
            livebus.PATH,
            livebus.publish_key(),
            {"events": [{"group": "user.3", "message": {"type": "account.changed"}}]},
        )
    ]


def test_events_leave_from_the_sender_thread_in_order_and_batched(live_process, monkeypatch):
    posted: list[tuple[str, list[dict[str, Any]]]] = []
    release = threading.Event()
    post = livebus._post

    def slow_post(events: list[str]) -> None:
        release.wait(10)  # the live process is slow to answer the first post
        posted.append((threading.current_thread().name, [json.loads(e) for e in events]))
        post(events)

    monkeypatch.setattr(livebus, "_post", slow_post)
    for n in range(5):
        send_now(f"user.{n}", {"type": "balance.changed", "n": n})  # returns without waiting
    release.set()
    assert livebus.flush()
    threads = {name for name, _ in posted}
    assert threads == {"livebus"}
    assert threading.current_thread().name not in threads
    sent = [event for _, events in posted for event in events]
    assert sent == [{"group": f"user.{n}", "message": {"type": "balance.changed", "n": n}} for n in range(5)]
    assert len(posted) < 5  # what queued while a post was in flight went out together
    assert [e for *_, body in live_process for e in body["events"]] == sent


def test_the_queue_is_bounded_dropping_the_oldest(live_process, monkeypatch):
    sender = livebus._Sender()
    monkeypatch.setattr(livebus, "MAX_PENDING", 3)
    gate = threading.Event()
    monkeypatch.setattr(sender, "_send", lambda taken: gate.wait(10))
    sender.put("user.1", {"n": 0})  # taken by the thread, which then waits on the gate
    for _ in range(100):
        if not sender._queue:
            break
        threading.Event().wait(0.01)
    for n in range(1, 6):
        sender.put("user.1", {"n": n})
    assert [m["n"] for _, m in sender._queue] == [3, 4, 5]
    assert sender.dropped == 2
    gate.set()
    assert sender.flush(5)


async def test_the_live_process_takes_a_batch_in_order():
    frames: list[dict[str, Any]] = []

    async def browser(message: dict[str, Any]) -> None:
        frames.append(message)

    await hub().join("user.8", Socket(browser))
    endpoint = livebus.PublishEndpoint(not_django)
    events = [{"group": "user.8", "message": {"type": "order.changed", "n": n}} for n in range(3)]
    body = json.dumps({"events": events}).encode()
    assert await call(endpoint, key=livebus.publish_key(), body=body) == 204
    for _ in range(20):
        if len(frames) == 3:
            break
        await asyncio.sleep(0.01)
    assert [json.loads(f["text"])["n"] for f in frames] == [0, 1, 2]


def test_a_live_process_that_is_down_does_not_break_the_caller(settings):
    settings.LIVE_FORWARD, settings.REDIS_URL = True, None
    settings.LIVE_INTERNAL_URL = "http://127.0.0.1:9"
    livebus._client = None
    try:
        send_now("user.3", {"type": "account.changed"})  # logged, not raised
        assert livebus.flush()
    finally:
        livebus._client = None
