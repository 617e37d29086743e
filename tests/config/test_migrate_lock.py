"""Two `migrate` runs at once on a fresh sqld (config/management/commands/migrate.py): both exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import DatabaseError, connections

from tests.config.conftest import Sqld, database_alias

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.sqld
def test_two_migrates_at_once_both_succeed(sqld_servers: Sqld, tmp_path, django_db_blocker):
    url = sqld_servers.start("migrate-race")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LIBSQL_AUTH_TOKEN": sqld_servers.token,
        "BRUTE_VAR_DIR": str(tmp_path),
        "DJANGO_ENV": "development",
    }

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    # The second starts once the first holds the lock, so they overlap however loaded the machine is
    # (a migrate of the whole schema over HTTP takes seconds); without the lock both would apply.
    first = start()
    with (
        django_db_blocker.unblock(),
        database_alias("race", url, {"auth_token": sqld_servers.token}) as alias,
    ):
        _wait_for_lock_row(alias, first)
    runs = [first, start()]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], "\n----\n".join(outputs)
    assert sum("Applying backups.0001" in out for out in outputs) == 1, outputs
    assert any("Another migrate is running" in out for out in outputs), outputs

    with (
        django_db_blocker.unblock(),
        database_alias("race", url, {"auth_token": sqld_servers.token}) as alias,
    ):
        from django.db import connections

        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM brute_migrate_lock")
            assert cursor.fetchone()[0] == 0  # released
            cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'backups'")
            assert cursor.fetchone()[0] >= 1


def _wait_for_lock_row(alias: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM brute_migrate_lock")
                if cursor.fetchone()[0] == 1:
                    return
        except DatabaseError:  # the table does not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError("the first migrate never took the lock")
