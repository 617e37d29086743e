"""A Redis outage (config/degraded.py): the API answers 503 in its error shape with Retry-After,
pages say the service is degraded, and both recover as soon as Redis is back. Redis is real: a
private redis-server this test stops and starts again on the same port."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from config.logging import RepeatFilter
from tests.conftest import free_port, wait_for_port
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make system-deps`")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def on_redis(redis_server):
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_server.url}
    }
    with override_settings(CACHES=caches, REDIS_URL=redis_server.url):
        yield redis_server


def test_an_outage_gives_503s_then_recovers(client, on_redis):
    client.force_login(UserFactory())
    assert client.get("/api/v1/symbols").status_code == 200
    assert client.get("/").status_code == 200

    on_redis.stop()
    api = client.get("/api/v1/symbols")
    assert api.status_code == 503
    assert api["Content-Type"].startswith("application/json")
    assert api.json()["error"]["code"] == "service_unavailable"
    assert set(api.json()["error"]) == {"code", "message", "details"}
    assert int(api["Retry-After"]) > 0
    page = client.get("/")
    assert page.status_code == 503
    assert b"Service degraded" in page.content
    assert int(page["Retry-After"]) > 0
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"]["cache"]["status"] == "down"

    on_redis.start()  # same port: redis-py reconnects on the next command
    assert client.get("/api/v1/symbols").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/healthz").json()["checks"]["cache"]["status"] == "ok"


def test_an_outage_raised_outside_a_view_is_a_503_too(rf):
    # Django calls handler500 inside its `except` for what a middleware raised (no process_exception).
    from redis.exceptions import ConnectionError as RedisConnectionError

    from config.views import server_error

    for path, kind in (("/markets/", "text/html"), ("/api/v1/orders", "application/json")):
        try:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except RedisConnectionError:
            response = server_error(rf.get(path))
        assert response.status_code == 503
        assert response["Content-Type"].startswith(kind)
        assert response["Retry-After"]
    try:
        raise ValueError("a plain bug")
    except ValueError:
        assert server_error(rf.get("/")).status_code == 500


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("trading.feed", logging.WARNING, __file__, 1, msg, args, None)


def test_a_repeated_warning_is_rate_limited_and_counted():
    now = [0.0]
    limiter = RepeatFilter(window_s=10, burst=3)
    import config.logging as module

    real = module.time.monotonic
    module.time.monotonic = lambda: now[0]  # type: ignore[assignment]
    try:
        passed = [limiter.filter(_record("redis down: %s", n)) for n in range(1000)]
        assert sum(passed) == 3
        assert limiter.filter(_record("another problem"))  # a different kind passes
        now[0] = 10.5
        summary = _record("redis down: %s", 1000)
        assert limiter.filter(summary)
        assert summary.getMessage() == "redis down: 1000 [997 more like this in the last 10s]"
        info = logging.LogRecord("celery", logging.INFO, __file__, 1, "Task %s received", ("t",), None)
        assert all(limiter.filter(info) for _ in range(100))
    finally:
        module.time.monotonic = real  # type: ignore[assignment]
