"""Faults found by the operator trial: each test fails on the code before its fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from backups import services
from tests.backups.conftest import Site
from tests.factories import UserFactory

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


def _modes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix() or ".": oct(p.stat().st_mode & 0o777)
        for p in [root, *sorted(root.rglob("*"))]
        if not p.name.endswith(".in-use")
    }


def test_everything_a_backup_or_restore_writes_is_the_operators_alone(site: Site, tmp_path: Path) -> None:
    os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless the code says otherwise
    site.db.chmod(0o600)
    created = json.loads(backup("create", "--json"))
    incremental = json.loads(backup("create", "--incremental", "--json"))
    backup("restore", incremental["id"], "--target", str(tmp_path / "new" / "restored"))
    backup("restore", created["id"], "--yes")

    backups = _modes(site.backups)
    restored = _modes(tmp_path / "new")
    in_place = {name: mode for name, mode in _modes(site.root).items() if name.startswith("app.db")}
    media = _modes(site.media)

    assert set(backups.values()) <= {"0o600", "0o700"}, backups
    assert backups["."] == "0o700"
    assert set(restored.values()) <= {"0o600", "0o700"}, restored
    assert restored["restored/db.sqlite3"] == "0o600"
    assert restored["restored/media/avatars"] == "0o700"
    assert restored["restored/media/notes.txt"] == "0o600"
    assert any(".pre-restore-" in name for name in in_place)
    assert set(in_place.values()) == {"0o600"}, in_place
    assert set(media.values()) <= {"0o600", "0o700"}, media


@pytest.fixture
def operator_client(client: Client, db: None) -> Client:
    client.force_login(UserFactory(role=Role.ADMIN))
    return client


def test_a_backup_whose_archive_is_missing_is_not_offered_and_answers_410(
    operator_client: Client, site: Site
) -> None:
    summary = services.backup_create()
    (site.backups / summary.archive).unlink()

    page = operator_client.get(reverse("backups:index")).content.decode()
    response = operator_client.get(reverse("backups:download", args=[summary.id]))

    assert "missing-archive" in page
    assert reverse("backups:download", args=[summary.id]) not in page
    assert response.status_code == 410
    assert f"{summary.archive} is missing" in response.content.decode()


def test_a_restore_target_that_is_a_file_is_one_line_and_exit_1(site: Site, tmp_path: Path) -> None:
    created = json.loads(backup("create", "--json"))
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")

    with pytest.raises(CommandError) as as_target:
        backup("restore", created["id"], "--target", str(a_file))
    with pytest.raises(CommandError) as under_a_file:
        backup("restore", created["id"], "--target", str(a_file / "inside"))

    assert as_target.value.returncode == under_a_file.value.returncode == 1
    assert str(as_target.value) == (
        f"--target {a_file} is a file, not a directory; name a directory to restore into"
    )
    assert "\n" not in str(under_a_file.value)
    assert str(a_file) in str(under_a_file.value)
    assert a_file.read_text() == "keep me"


def test_a_failure_from_the_shell_is_one_line_on_stderr(site: Site, tmp_path: Path) -> None:
    created = json.loads(backup("create", "--json"))
    (tmp_path / "a").write_text("")

    run = subprocess.run(
        [sys.executable, "manage.py", "backup", "restore", created["id"], "--target", str(tmp_path / "a")],
        cwd=ROOT,
        env={**os.environ, "BACKUP_DATABASE": str(site.db), "BACKUP_DIR": str(site.backups)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 1
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "is a file, not a directory" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_verification_from_the_command_line_shows_on_the_page(operator_client: Client, site: Site) -> None:
    good = json.loads(backup("create", "--json"))
    bad = json.loads(backup("create", "--json"))
    archive = site.backups / bad["archive"]
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CommandError):
        backup("verify", "--all")

    page = operator_client.get(reverse("backups:index")).content.decode()
    ids = (re.search(r'data-label="ID"[^>]*>([^<]+)</td>', row) for row in page.split("<tr>")[1:])
    rows = {found.group(1): found.string for found in ids if found}

    assert "not yet" not in page
    assert '<span class="up">ok</span>' in rows[good["id"]]
    assert ">failed</span>" in rows[bad["id"]]


def _flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _listed() -> dict[str, str]:
    return {row["id"]: row["status"] for row in json.loads(backup("list", "--json"))}


@pytest.mark.django_db
def test_a_listing_says_what_it_knows_of_an_archive(site: Site) -> None:
    good = json.loads(backup("create", "--json"))
    flipped = json.loads(backup("create", "--json"))
    truncated = json.loads(backup("create", "--json"))
    _flip_a_bit(site.backups / flipped["archive"])
    cut = site.backups / truncated["archive"]
    cut.write_bytes(cut.read_bytes()[:-100])

    before = _listed()
    with pytest.raises(CommandError):
        backup("verify", "--all")
    after = _listed()
    plain = backup("list")

    cut_id = truncated["id"]
    assert before == {good["id"]: "unverified", flipped["id"]: "unverified", cut_id: "damaged-archive"}
    assert after == {good["id"]: "verified", flipped["id"]: "verify-failed", cut_id: "damaged-archive"}
    assert " ok" not in plain
    assert "verify-failed" in plain


def test_an_incremental_on_a_damaged_parent_says_damaged(site: Site) -> None:
    full = services.backup_create()
    incremental = services.backup_create(incremental=True)
    (site.backups / full.sidecar).write_text("{not json")

    [_full, outcome] = services.backup_verify(all_backups=True)
    with pytest.raises(CommandError) as restoring:
        backup("restore", incremental.id, "--target", str(site.root / "r"))

    assert outcome.problem == f"backup {incremental.id}: its parent {full.id} is damaged (unreadable sidecar)"
    assert "is damaged" in str(restoring.value)
    assert "missing" not in outcome.problem + str(restoring.value)


@pytest.mark.django_db
def test_a_dry_run_prune_with_nothing_to_delete_ends_cleanly(site: Site) -> None:
    backup("create")
    backup("create")

    assert backup("prune", "--dry-run").strip() == "kept 2, would delete 0"


def test_starting_an_unknown_kind_of_run_is_refused(operator_client: Client, site: Site) -> None:
    from backups.models import BackupRun

    response = operator_client.post(reverse("backups:start"), {"kind": "bogus"})

    assert response.status_code == 400
    assert "Unknown kind of run 'bogus'" in response.content.decode()
    assert "full, incremental, verify" in response.content.decode()
    assert not BackupRun.objects.exists()


def test_two_different_backup_keys_refuse_the_start(site: Site, tmp_path: Path) -> None:
    from django.test import override_settings

    from tests.backups.conftest import KEY, OTHER_KEY

    key_file = tmp_path / "backup.key"
    key_file.write_text(OTHER_KEY + "\n")
    message = (
        "BACKUP_ENCRYPTION_KEY and BACKUP_ENCRYPTION_KEY_FILE are both set, to different keys: set only one"
    )

    run = subprocess.run(
        [sys.executable, "manage.py", "backup", "list"],
        cwd=ROOT,
        env={**os.environ, "BACKUP_ENCRYPTION_KEY": KEY, "BACKUP_ENCRYPTION_KEY_FILE": str(key_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    with override_settings(BACKUP_ENCRYPTION_KEY_FILE=str(key_file)), pytest.raises(CommandError) as caught:
        backup("create", "--encrypt")
    key_file.write_text(KEY + "\n")
    with override_settings(BACKUP_ENCRYPTION_KEY_FILE=str(key_file)):
        backup("create", "--encrypt")  # the same key twice is no conflict

    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1].endswith(message)
    assert str(caught.value) == message


def test_a_fresh_host_lists_and_verifies_without_a_database(site: Site, tmp_path: Path) -> None:
    made = services.backup_create()
    env = {**os.environ, "BRUTE_VAR_DIR": str(tmp_path / "var"), "BACKUP_DIR": str(site.backups)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "manage.py", "backup", *args]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    listed, verified = run("list"), run("verify", "--all")

    assert (listed.returncode, verified.returncode) == (0, 0), listed.stderr + verified.stderr
    assert f"{made.id}" in listed.stdout
    assert listed.stdout.splitlines()[1].endswith(" unverified")
    assert f"{made.id}: ok" in verified.stdout
