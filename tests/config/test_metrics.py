"""/metrics (config/metrics.py, config/metrics_web.py): scraped for real, each family present, and
closed to the public."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from config.metrics_web import count_websockets
from trading.exchange.mexc_rest import MexcRestClient
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {
    "brute_http_request_duration_seconds",
    "brute_websocket_connections",
    "brute_feed_frames",
    "brute_feed_last_frame_timestamp_seconds",
    "brute_feed_staleness_seconds",
    "brute_orders",
    "brute_exchange_requests",
    "brute_exchange_ratelimit_headroom",
    "brute_sniper_firing_seconds",
    "brute_celery_tasks",
    "brute_role_heartbeat_age_seconds",
    "brute_backup_age_seconds",
    "brute_shadow_lag_commits",
    "brute_shadow_lag_seconds",
    "brute_shadow_applied",
    "brute_shadow_replay_errors",
    "brute_shadow_mismatches",
    "brute_shadow_verifications",
}


def scrape(client, **headers) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    families: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return families


async def _websocket_once() -> None:
    async def app(scope, receive, send):
        await send({"type": "websocket.accept"})
        assert metrics.WEBSOCKET_CONNECTIONS._value.get() >= 1  # open while the app runs

    sent = []

    async def send(message):
        sent.append(message)

    await count_websockets(app)({"type": "websocket"}, None, send)
    assert sent == [{"type": "websocket.accept"}]


async def _exchange_calls() -> None:
    with SimExchangeThread(SimConfig()) as sim:
        exchange = MexcRestClient(base_url=sim.base_url)
        try:
            await exchange.server_time()
            await exchange.tickers()
        finally:
            await exchange.aclose()


def test_each_family_is_scraped(client, settings):
    from asgiref.sync import async_to_sync

    from config.tasks import heartbeat

    client.get("/healthz")
    async_to_sync(_websocket_once)()
    async_to_sync(_exchange_calls)()
    metrics.feed_frame("TickerEvent")
    metrics.order_outcome("new")
    metrics.sniper_firing("detected_to_placed", 0.012)
    heartbeat.apply()  # eager, so Celery's task signals fire here

    families = scrape(client)
    assert set(families) >= FAMILIES, FAMILIES - set(families)
    routes = {labels["route"] for _, labels, _ in families["brute_http_request_duration_seconds"]}
    assert "/healthz" in routes
    statuses = {labels["status"] for _, labels, _ in families["brute_exchange_requests"]}
    assert "200" in statuses
    tasks = {(labels["task"], labels["outcome"]) for _, labels, _ in families["brute_celery_tasks"]}
    assert ("config.tasks.heartbeat", "success") in tasks
    staleness = families["brute_feed_staleness_seconds"][0][2]
    assert 0 <= staleness < 600
    roles = {labels["role"]: value for _, labels, value in families["brute_role_heartbeat_age_seconds"]}
    assert set(roles) == {"marketfeed", "worker", "beat", "sniper", "userstream", "shadow"}
    assert roles["worker"] >= 0


def test_it_is_hidden_from_anyone_but_loopback_without_a_token(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    # A reverse proxy on the same host connects from loopback: its forwarding headers give it away.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404


def test_with_a_token_it_needs_the_bearer(client):
    with override_settings(METRICS_TOKEN="s3cret-scrape-token"):
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
        ok = client.get(
            "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", REMOTE_ADDR="203.0.113.9"
        )
    assert ok.status_code == 200
    assert b"brute_orders_total" in ok.content


def test_samples_from_several_processes_add_up(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from config import metrics; metrics.order_outcome('filled'); metrics.exchange_response(429)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], cwd=ROOT, env=env, check=True, timeout=60)
    show = (
        "import django; django.setup();"
        "from config.metrics_web import render_metrics; print(render_metrics().decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(out)
        for s in family.samples
    }
    assert samples[("brute_orders_total", (("outcome", "filled"),))] == 2
    assert samples[("brute_exchange_requests_total", (("status", "429"),))] == 2
