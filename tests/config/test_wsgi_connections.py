"""Under gunicorn (config/wsgi.py) a thread's database connection outlives its request; under ASGI
(config/asgi.py) it does not, unless DATABASE_CONN_MAX_AGE says otherwise (issue 11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import {module}; from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])"
)


def conn_max_age(module: str, tmp_path: Path, **extra: str) -> int:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE")
    }
    env.update(BRUTE_VAR_DIR=str(tmp_path), DATABASE_URL=f"file:{tmp_path / 'db.sqlite3'}", **extra)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize(("module", "expected"), [("config.wsgi", 60), ("config.asgi", 0)])
def test_the_server_kind_sets_how_long_a_connection_is_kept(
    tmp_path: Path, module: str, expected: int
) -> None:
    assert conn_max_age(module, tmp_path) == expected


def test_the_operator_s_setting_wins_under_gunicorn(tmp_path: Path) -> None:
    assert conn_max_age("config.wsgi", tmp_path, DATABASE_CONN_MAX_AGE="0") == 0
