"""Shadow mode in the metrics: lag, applied writes, replay errors, mismatches and the state, recorded by
the shipper, status and verification, and scraped from /metrics. File to file (the shipping and the
checks are the same code as to sqld, which tests/config/test_shadow.py covers)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.health import health_report
from config.shadow.db import open_db
from config.shadow.operations import Shadow
from config.shadow.verify import verify

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def make_primary(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        db.executemany("INSERT INTO items (v) VALUES (?)", [(f"row {n}",) for n in range(rows)])
    db.close()


def write(path: Path, rows: int) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executemany("INSERT INTO items (v) VALUES (?)", [(f"later {n}",) for n in range(rows)])
    db.close()


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Shadow]:
    primary, target = tmp_path / "primary.db", tmp_path / "target.db"
    make_primary(primary, 10)
    sqlite3.connect(target).close()  # an empty database
    shadow = Shadow(tmp_path / "shadow.json", timeout=0.3)  # a locked side fails fast
    shadow.start(f"file:{primary}", f"file:{target}")
    return primary, target, shadow


def test_the_shipper_records_applied_writes_lag_and_replay_errors(files):
    primary, target, shadow = files
    applied = sample("brute_shadow_applied_total")
    errors = sample("brute_shadow_replay_errors_total", kind="database")
    write(primary, 25)
    assert shadow.status()["lag_commits"] == 25
    assert sample("brute_shadow_lag_commits") == 25
    assert sample("brute_shadow_state", state="catching_up") == 0  # 25 is within "in sync"
    assert sample("brute_shadow_state", state="in_sync") == 1

    stop = threading.Event()
    shipper = threading.Thread(target=shadow.ship, kwargs={"until": stop.is_set, "idle": 0.05, "retry": 0.1})
    shipper.start()
    try:
        wait_until(lambda: sample("brute_shadow_applied_total") - applied == 25)
        # Its own lag measurement (once a second) comes back to 0 once caught up.
        write(primary, 3)
        wait_until(lambda: sample("brute_shadow_applied_total") - applied == 28)
        wait_until(
            lambda: sample("brute_shadow_lag_commits") == 0 and sample("brute_shadow_lag_seconds") == 0
        )

        # The target refuses (another connection holds it locked): every round fails and is counted,
        # the primary's writes go on; once it is free again the shipper catches up.
        blocker = sqlite3.connect(target, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            write(primary, 2)
            wait_until(lambda: sample("brute_shadow_replay_errors_total", kind="database") - errors >= 2)
            assert sample("brute_shadow_applied_total") - applied == 28
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        wait_until(lambda: sample("brute_shadow_applied_total") - applied == 30)
    finally:
        stop.set()
        shipper.join(10)
    report = shadow.status()
    assert report["state"] == "in_sync"
    assert report["lag_commits"] == 0
    assert sample("brute_shadow_lag_commits") == 0


def test_a_verification_records_its_mismatches(files):
    primary_path, target_path, _shadow = files
    primary, target = open_db(f"file:{primary_path}"), open_db(f"file:{target_path}")
    try:
        ok = sample("brute_shadow_verifications_total", result="ok")
        assert verify(primary, target).ok
        assert sample("brute_shadow_mismatches") == 0
        assert sample("brute_shadow_verifications_total", result="ok") == ok + 1
        with target.transaction():  # a write that bypassed the shadow (only the shipper opens the fence)
            target.execute("UPDATE shadow_fence SET open = 1")
            target.execute("UPDATE items SET v = 'tampered' WHERE id = 3")
            target.execute("UPDATE shadow_fence SET open = 0")
        divergent = sample("brute_shadow_verifications_total", result="divergent")
        assert not verify(primary, target, rechecks=0).ok
        assert sample("brute_shadow_mismatches") == 1
        assert sample("brute_shadow_verifications_total", result="divergent") == divergent + 1
    finally:
        primary.close()
        target.close()


def test_metrics_and_healthz_show_the_state_the_lag_and_the_shippers_heartbeat(files, client):
    primary, _target, shadow = files
    write(primary, 7)
    with override_settings(SHADOW_STATE_FILE=shadow.state_path):
        report = health_report()
        assert report["checks"]["shadow"]["lag_commits"] == 7  # type: ignore[index]
        # Shadow mode is on and no shipper has beaten yet: the role is down.
        assert "shadow" in report["down"]  # type: ignore[operator]
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    states = {s.labels["state"]: s.value for s in families["brute_shadow_state"].samples}
    assert states["in_sync"] == 1
    assert states["off"] == 0
    assert families["brute_shadow_lag_commits"].samples[0].value == 7
    for name in ("brute_shadow_lag_seconds", "brute_shadow_mismatches", "brute_shadow_applied"):
        assert name in families
    ages = {s.labels["role"]: s.value for s in families["brute_role_heartbeat_age_seconds"].samples}
    assert ages["shadow"] == -1

    # With shadow mode off the shipper is not expected: the role is not down.
    assert "shadow" not in health_report()["down"]  # type: ignore[operator]


def test_the_docker_role_waits_while_shadow_mode_is_off_then_ships(tmp_path: Path) -> None:
    """`shadow run --wait` (the image's "shadow" role) idles while off, ships once shadow mode is
    started, and a SIGTERM stops it cleanly."""
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    state = tmp_path / "shadow.json"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")},
        "BRUTE_VAR_DIR": str(tmp_path / "var"),
        "SHADOW_STATE_FILE": str(state),
        "DJANGO_ENV": "development",
    }
    shipper = subprocess.Popen(
        [sys.executable, "manage.py", "shadow", "run", "--wait"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(3)
        assert shipper.poll() is None  # off: it waits instead of failing
        primary, target = tmp_path / "primary.db", tmp_path / "target.db"
        make_primary(primary, 5)
        sqlite3.connect(target).close()
        Shadow(state).start(f"file:{primary}", f"file:{target}")
        write(primary, 4)
        shadow_db = open_db(f"file:{target}")
        try:
            deadline = time.monotonic() + 30
            while shadow_db.execute("SELECT count(*) FROM items")[0][0] != 9:
                assert time.monotonic() < deadline, "the waiting shipper did not ship"
                assert shipper.poll() is None
                time.sleep(0.2)
        finally:
            shadow_db.close()
        shipper.send_signal(signal.SIGTERM)
        assert shipper.wait(timeout=30) == 0
    finally:
        if shipper.poll() is None:
            shipper.kill()
            shipper.wait()
