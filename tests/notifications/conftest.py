"""A local HTTP receiver that records what the channels post and answers from a script, plus the cast
(owner, other user, operator) and Celery in eager mode."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accounts.models import Role
from tests.factories import UserFactory


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, headers, body), then 200 once the script
    runs out, and keeps every request it got."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)

    def answer(self, status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> None:
        self.script.append((status, headers or {}, body.encode() if isinstance(body, str) else body))


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """The receiver listens on loopback, which channels refuse unless NOTIFY_ALLOW_PRIVATE_URLS: a test
    that uses it turns that on, and takes it as the Slack webhook base."""
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.requests.append(Received(self.path, headers, body))
                scripted = state.script.pop(0) if state.script else None
            status, reply_headers, reply = scripted or (200, {}, b'{"ok":true}')
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    settings.SLACK_WEBHOOK_BASE = f"{state.url}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _notification_settings(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A cache of this test's own: rate-limit counters are keyed by channel id, and ids are reused.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.NOTIFY_RETRY_BACKOFF = 0.0


@pytest.fixture
def eager(settings: Any) -> None:
    """Celery runs tasks in-process, retries included (countdowns are ignored). Not propagating, since
    eager mode would raise the Retry itself; tests check outcomes on the Delivery rows instead.

    Through Django's setting, which Celery's app reads on every access, never `celery_app.conf.x = ...`:
    that stores the value in Celery's own overrides for the rest of the process, where it shadows the
    setting, so a later test's `override_settings(CELERY_TASK_ALWAYS_EAGER=True)` did nothing."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def owner() -> Any:
    return UserFactory(email="owner@example.com")


@pytest.fixture
def other() -> Any:
    return UserFactory(email="other@example.com")


@pytest.fixture
def operator() -> Any:
    return UserFactory(email="operator@example.com", role=Role.ADMIN)
