"""Every line a production process writes to stderr is JSON, the libsql driver's own included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.conftest import Sqld

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 64,
    "DJANGO_ALLOWED_HOSTS": "brute.example",
    "BRUTE_FIELD_KEY": "x0m6wqk2mJ8yQm3r2gkq6fJmJ6Y9tq5o1c8mRkT1ZzU=",
}


@pytest.mark.sqld
def test_an_embedded_replica_logs_only_json(sqld_servers: Sqld, tmp_path):
    url = sqld_servers.start("json-logs")
    env = {k: v for k, v in os.environ.items() if k not in ("RUST_LOG", "LOG_FORMAT")}
    env.update(
        PRODUCTION,
        BRUTE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"file:{tmp_path / 'replica.db'}",
        LIBSQL_SYNC_URL=url,
        LIBSQL_AUTH_TOKEN=sqld_servers.token,
    )
    code = (
        "import logging; from django.db import connection; "
        "cursor = connection.cursor(); cursor.execute('SELECT 1'); "
        "logging.getLogger('brute.test').warning('replica connected')"
    )
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines, "the warning was not logged"
    records = [json.loads(line) for line in lines]  # fails on the driver's coloured "handshake" line
    assert any(r["message"] == "replica connected" and r["level"] == "WARNING" for r in records)
