"""Two `migrate` runs at once on a fresh sqld (config/management/commands/migrate.py): both exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
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
