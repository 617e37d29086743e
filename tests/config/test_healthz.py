from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from config import health
from config.health import MARKET_FEED_KEY, MARKET_STREAM_KEY, ROLES, role_heartbeat, with_heartbeat
from config.tasks import HEARTBEAT_KEY, heartbeat

pytestmark = pytest.mark.django_db


def just_started(monkeypatch, seconds_ago: float = 3.0) -> None:
    monkeypatch.setattr(health, "STARTED", time.monotonic() - seconds_ago)


def every_part_reported() -> None:
    for role in ("worker", "beat", "marketfeed", "sniper"):
        role_heartbeat(role)
    cache.set(MARKET_STREAM_KEY, timezone.now().isoformat())


def test_it_reports_each_dependency(client, monkeypatch):
    cache.clear()
    just_started(monkeypatch)
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "starting"  # no part has reported yet, seconds after the start
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    for check in ("market_feed", "worker", "beat", "sniper"):
        assert body["checks"][check]["status"] == "unknown"
    assert body["down"] == ["marketfeed", "worker", "beat", "sniper"]
    assert body["checks"]["userstream"]["status"] == "ok"  # inside the live process without Redis
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_sees_a_worker_heartbeat(client):
    cache.clear()
    heartbeat()
    body = client.get("/healthz").json()
    assert body["checks"]["worker"]["status"] == "ok"
    assert body["checks"]["worker"]["age_s"] >= 0
    assert "worker" not in body["down"]
    assert cache.get(HEARTBEAT_KEY)


def test_it_says_which_role_is_down_with_its_age(client):
    cache.clear()
    for role in ("worker", "beat", "marketfeed"):
        role_heartbeat(role)
    cache.set(ROLES["sniper"].key, "2020-01-01T00:00:00+00:00")
    body = client.get("/healthz").json()
    assert body["down"] == ["sniper"]
    assert body["checks"]["sniper"]["status"] == "stale"
    assert body["checks"]["sniper"]["age_s"] > 60 * 60 * 24 * 365
    assert (
        body["status"] == "degraded"
    )  # a role being down degrades the service; the web process still serves


def test_the_overall_status_agrees_with_the_parts(client, monkeypatch):
    """The trial's fault: "ok" beside a worker listed as down in the first seconds after start."""
    cache.clear()
    just_started(monkeypatch)
    every_part_reported()
    cache.delete(ROLES["worker"].key)
    response = client.get("/healthz")
    body = response.json()
    assert body["down"] == ["worker"]
    assert (response.status_code, body["status"]) == (200, "starting")
    assert "worker (unknown)" in body["reason"]

    just_started(monkeypatch, seconds_ago=health.STARTUP_GRACE_S + 1)  # still silent after the grace
    body = client.get("/healthz").json()
    assert (body["status"], body["down"]) == ("degraded", ["worker"])
    assert "worker (unknown)" in body["reason"]

    role_heartbeat("worker")
    response = client.get("/healthz")
    assert (response.status_code, response.json()["status"], response.json()["reason"]) == (200, "ok", "")
    assert response.json()["down"] == []


def test_a_stale_role_is_degraded_even_just_after_the_start(client, monkeypatch):
    cache.clear()
    just_started(monkeypatch)
    every_part_reported()
    cache.set(ROLES["beat"].key, "2020-01-01T00:00:00+00:00")  # it did beat once: it died, not starting
    body = client.get("/healthz").json()
    assert (body["status"], body["down"]) == ("degraded", ["beat"])
    assert body["reason"] == "not ok: beat (stale)"


def test_a_non_critical_check_that_is_not_ok_degrades(client, monkeypatch):
    cache.clear()
    just_started(monkeypatch, seconds_ago=health.STARTUP_GRACE_S + 1)
    every_part_reported()
    cache.set(MARKET_STREAM_KEY, "2020-01-01T00:00:00+00:00")
    response = client.get("/healthz")
    assert (response.status_code, response.json()["status"]) == (200, "degraded")
    assert response.json()["down"] == []
    assert "market_stream (stale)" in response.json()["reason"]


def test_beat_writes_its_own_heartbeat(tmp_path):
    from config.celery import BeatScheduler, app

    cache.clear()
    scheduler = BeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=False)
    assert scheduler.tick() <= 10
    assert client_status("beat") == "ok"


def client_status(check: str) -> str:
    from config.health import health_report

    return health_report()["checks"][check]["status"]  # type: ignore[index]


async def test_with_heartbeat_beats_beside_the_main_coroutine():
    import asyncio

    from asgiref.sync import sync_to_async

    await sync_to_async(cache.clear)()

    async def main() -> str:
        await asyncio.sleep(0.2)
        return await sync_to_async(client_status)("sniper")

    assert await with_heartbeat("sniper", main()) == "ok"


def test_it_marks_an_old_feed_heartbeat_stale(client):
    cache.set(MARKET_FEED_KEY, "2020-01-01T00:00:00+00:00")
    assert client.get("/healthz").json()["checks"]["market_feed"]["status"] == "stale"


def test_it_uses_redis_for_the_cache_when_configured(client, redis_url):
    redis_cache = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    with override_settings(CACHES=redis_cache, REDIS_URL=redis_url):
        body = client.get("/healthz").json()
    assert body["checks"]["cache"] == {
        "status": "ok",
        "backend": "redis",
        "ms": body["checks"]["cache"]["ms"],
    }


def test_it_answers_503_when_the_cache_is_down(client):
    dead = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=dead, REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["status"] == "down"
    assert response.json()["status"] == "down"
    assert response.json()["reason"] == "critical check failed: cache"


def test_every_task_has_a_soft_limit_within_its_hard_limit():
    # Celery refuses to queue a task whose soft limit (the global default otherwise) exceeds its own hard one.
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
        assert soft <= hard, name


def test_head_answers_the_status_without_a_body(client, monkeypatch):
    just_started(monkeypatch)
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == "application/json"


def test_post_is_405_not_a_csrf_403(monkeypatch):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/healthz")
    assert response.status_code == 405
    assert "GET" in response["Allow"]
