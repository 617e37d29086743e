"""Faults found by the operator trial: each test fails on the code before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.backups.conftest import Site

ROOT = Path(__file__).resolve().parents[2]


def backup(*args: str) -> str:
    out = StringIO()
    call_command("backup", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _app_process(site: Site) -> subprocess.Popen[str]:
    """A process of the app (what gunicorn, the worker and the sniper are): Django set up, running."""
    code = "import django, sys; django.setup(); print('up', flush=True); sys.stdin.read()"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "BACKUP_DATABASE": str(site.db)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "up"
    return process


def test_a_restore_in_place_refuses_while_the_app_runs(site: Site) -> None:
    created = json.loads(backup("create", "--json"))
    site.execute("INSERT INTO item (name) VALUES ('after the backup')")
    running = _app_process(site)
    try:
        with pytest.raises(CommandError) as caught:
            backup("restore", created["id"], "--yes")
    finally:
        running.communicate("", timeout=30)

    assert caught.value.returncode == 1
    assert "\n" not in str(caught.value)
    assert "stop Brute first" in str(caught.value)
    assert "--target" in str(caught.value)
    assert any(name == "after the backup" for _id, name, _p in site.rows())  # nothing was replaced
    # Once Brute is stopped (its process gone, its lock with it) the same restore goes through.
    backup("restore", created["id"], "--yes")
    assert not any(name == "after the backup" for _id, name, _p in site.rows())


def test_a_restore_into_a_target_does_not_wait_for_the_app(site: Site, tmp_path: Path) -> None:
    created = json.loads(backup("create", "--json"))
    running = _app_process(site)
    try:
        backup("restore", created["id"], "--target", str(tmp_path / "elsewhere"))
    finally:
        running.communicate("", timeout=30)

    assert site.rows(tmp_path / "elsewhere" / "db.sqlite3") == site.rows()


def test_restore_help_says_to_stop_brute(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        call_command("backup", "restore", "--help")

    assert "stop Brute" in " ".join(capsys.readouterr().out.split())
