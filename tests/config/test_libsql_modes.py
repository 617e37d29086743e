"""What only one mode shows: pytest-django's test file, WAL, REGEXP, replicas, manage.py on sqld."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import libsql
import pytest
from django.conf import settings
from django.db import connection, connections

import config.libsql
from accounts.models import User
from tests.config.conftest import Sqld, database_alias

ROOT = Path(__file__).resolve().parents[2]


def new_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


@pytest.mark.django_db
def test_it_runs_the_pytest_django_test_database_on_an_embedded_file() -> None:
    test_name = settings.DATABASES["default"]["TEST"]["NAME"]
    assert connection.vendor == "sqlite"
    assert connection.settings_dict["NAME"] == test_name
    User.objects.create_user(new_email(), "correct horse battery")
    assert Path(test_name).exists()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_it_matches_regex_lookups_on_an_embedded_file() -> None:
    User.objects.create_user("regex-42@example.com", "correct horse battery")
    assert User.objects.filter(email__regex=r"^regex-[0-9]+@").count() == 1


def test_it_syncs_an_embedded_replica_from_sqld(
    sqld: str, sqld_servers: Sqld, django_db_blocker: Any, tmp_path: Path
) -> None:
    options = {"sync_url": sqld, "auth_token": sqld_servers.token, "sync_interval": 0}
    primary = libsql.connect(sqld, auth_token=sqld_servers.token, isolation_level=None)
    primary.execute("CREATE TABLE IF NOT EXISTS quotes (symbol TEXT PRIMARY KEY, price TEXT)")
    with (
        django_db_blocker.unblock(),
        database_alias("replica", str(tmp_path / "replica.db"), options),
        connections["replica"].cursor() as cursor,
    ):
        cursor.execute("SELECT count(*) FROM quotes")
        assert cursor.fetchone() == (0,)
        primary.execute("INSERT INTO quotes VALUES ('BTCUSDT', '97000.15')")
        cursor.execute("SELECT count(*) FROM quotes")
        assert cursor.fetchone() == (0,)
        config.libsql.sync(alias="replica")
        cursor.execute("SELECT price FROM quotes WHERE symbol = %s", ["BTCUSDT"])
        assert cursor.fetchone() == ("97000.15",)
    primary.close()


def test_it_migrates_sqld_through_manage_py_with_database_url(sqld_servers: Sqld, tmp_path: Path) -> None:
    url = sqld_servers.start("manage-py")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LIBSQL_AUTH_TOKEN": sqld_servers.token,
        "BRUTE_VAR_DIR": str(tmp_path / "var"),
    }
    command = [sys.executable, "manage.py", "migrate", "--no-input", "-v0"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    server = libsql.connect(url, auth_token=sqld_servers.token, isolation_level=None)
    applied = server.execute("SELECT count(*) FROM django_migrations WHERE app = 'accounts'").fetchone()
    assert applied[0] >= 1
