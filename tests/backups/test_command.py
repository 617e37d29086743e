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
# `backup verify` records its outcome as a verify run, like the page and the scheduler do.
pytestmark = pytest.mark.django_db


def backup(*args: str) -> str:
    out = StringIO()
    call_command("backup", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_list_verify_restore_and_prune_from_the_command_line(site: Site, tmp_path: Path) -> None:
    created = json.loads(backup("create", "--note", "first", "--json"))
    incremental = json.loads(backup("create", "--incremental", "--json"))
    listed = json.loads(backup("list", "--json"))
    verified = json.loads(backup("verify", "--all", "--json"))
    restored = json.loads(backup("restore", incremental["id"], "--target", str(tmp_path / "r"), "--json"))
    pruned = json.loads(backup("prune", "--dry-run", "--json"))

    assert [(r["id"], r["kind"], r["parent"], r["status"]) for r in listed] == [
        (created["id"], "full", None, "unverified"),
        (incremental["id"], "incremental", created["id"], "unverified"),
    ]
    assert {"id", "kind", "parent", "created", "size", "status"} <= set(listed[0])
    assert verified["ok"]
    assert restored["database"] == str(tmp_path / "r" / "db.sqlite3")
    assert pruned["deleted"] == []


def test_plain_output_is_readable(site: Site) -> None:
    created = backup("create")
    listing = backup("list")

    assert created.startswith("created full backup ")
    assert "ID" in listing.splitlines()[0]
    assert listing.splitlines()[1].endswith(" unverified")


def test_a_failure_is_one_line_and_a_non_zero_exit(site: Site) -> None:
    with pytest.raises(CommandError) as caught:
        backup("restore", "20990101T000000Z-000000")

    assert caught.value.returncode == 1
    assert "\n" not in str(caught.value)
    assert "no backup 20990101T000000Z-000000" in str(caught.value)


def test_an_incremental_with_no_backup_yet_is_one_line_and_exit_1(site: Site, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "manage.py", "backup", "create", "--incremental"],
        cwd=ROOT,
        env={**os.environ, "BACKUP_DATABASE": str(site.db), "BACKUP_DIR": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "CommandError: there is no usable backup to build an incremental on; create a full backup first"
    ]
    assert not any((tmp_path / "empty").glob("*.json"))


def test_a_failed_verification_exits_non_zero(site: Site) -> None:
    created = json.loads(backup("create", "--json"))
    archive = site.backups / created["archive"]
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))

    with pytest.raises(CommandError) as caught:
        backup("verify", created["id"])

    assert caught.value.returncode == 2
    assert created["id"] in str(caught.value)


@pytest.mark.parametrize("subcommand", ["create", "list", "verify", "restore", "prune"])
def test_every_subcommand_has_help(subcommand: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        call_command("backup", subcommand, "--help")

    assert caught.value.code == 0
    assert "--json" in capsys.readouterr().out
