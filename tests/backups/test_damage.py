"""A flipped byte anywhere in a backup, a wrong key, or an interrupted run is found and named."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tarfile
import time
from datetime import timedelta
from pathlib import Path

import hypothesis
import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import strategies as st

from backups import archive, services, streams
from backups.errors import BackupError
from backups.manifest import Summary
from backups.selectors import backup_list, backup_summaries
from tests.backups.conftest import OTHER_KEY, Site

ROOT = Path(__file__).resolve().parents[2]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def problem_of(summary: Summary) -> str:
    [outcome] = services.backup_verify(backup_id=summary.id)
    assert not outcome.ok
    return outcome.problem


def member_offsets(path: Path) -> dict[str, int]:
    with tarfile.open(path) as tar:
        return {m.name: m.offset_data for m in tar.getmembers()}


def test_a_sound_backup_verifies(site: Site) -> None:
    summary = services.backup_create()

    assert services.backup_verify(backup_id=summary.id)[0].ok


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("encrypt", [False, True])
def test_one_flipped_byte_anywhere_in_the_archive_fails_verification(
    site: Site, compression: str, encrypt: bool
) -> None:
    with override_settings(BACKUP_COMPRESSION=compression):
        summary = services.backup_create(encrypt=encrypt)
    path = site.backups / summary.archive
    size = path.stat().st_size
    for offset in sorted({0, 1, 10, 30, size // 3, size // 2, size - 20, size - 2, size - 1}):
        flip(path, offset)
        assert summary.id in problem_of(summary), offset
        flip(path, offset)
    assert services.backup_verify(backup_id=summary.id)[0].ok


@pytest.mark.parametrize(
    ("member", "named"),
    [
        ("manifest.json", "manifest.json"),
        ("db/pagehashes.bin", "db/pagehashes.bin"),
        ("db/database.sqlite3", "db/database.sqlite3"),
        ("media/avatars/a.png", "media/avatars/a.png"),
    ],
)
def test_damage_inside_a_member_names_the_member(site: Site, member: str, named: str) -> None:
    with override_settings(BACKUP_COMPRESSION="none"):
        summary = services.backup_create()
    path = site.backups / summary.archive
    flip(path, member_offsets(path)[member] + 5)

    assert named in problem_of(summary)


def test_damage_to_a_tar_header_is_named(site: Site) -> None:
    with override_settings(BACKUP_COMPRESSION="none"):
        summary = services.backup_create()
    path = site.backups / summary.archive
    flip(path, member_offsets(path)["media/notes.txt"] - 512 + 2)

    assert "notes.txt" in problem_of(summary) or "tar" in problem_of(summary)


def test_damage_to_the_sidecar_is_named(site: Site) -> None:
    summary = services.backup_create()
    sidecar = site.backups / summary.sidecar
    sidecar.write_text(sidecar.read_text().replace('"size": ', '"size": 1'))

    [listing] = backup_list()
    [outcome] = services.backup_verify(backup_id=summary.id)

    assert listing.status == "damaged-sidecar"
    assert "sidecar" in outcome.problem


def test_a_truncated_archive_is_named(site: Site) -> None:
    summary = services.backup_create(encrypt=True)
    path = site.backups / summary.archive
    path.write_bytes(path.read_bytes()[: -(1 << 10)])

    assert backup_list()[0].status == "damaged-archive"
    assert "truncated" in problem_of(summary) or "authentication" in problem_of(summary)


def test_a_damaged_parent_breaks_its_incrementals(site: Site) -> None:
    full = services.backup_create()
    site.execute("DELETE FROM item WHERE id = 1")
    incremental = services.backup_create(incremental=True)
    flip(site.backups / full.archive, 100)

    outcomes = {o.backup_id: o for o in services.backup_verify(all_backups=True)}

    assert not outcomes[full.id].ok
    assert not outcomes[incremental.id].ok
    assert full.id in outcomes[incremental.id].problem


def test_a_replaced_parent_is_detected(site: Site) -> None:
    full = services.backup_create()
    incremental = services.backup_create(incremental=True)
    (site.backups / full.sidecar).unlink()

    assert "parent" in problem_of(incremental)


def test_restore_refuses_a_damaged_backup_and_keeps_the_live_data(site: Site) -> None:
    summary = services.backup_create()
    site.execute("DELETE FROM item WHERE id > 10")
    flip(site.backups / summary.archive, summary.size // 2)

    with pytest.raises(BackupError, match=summary.id):
        services.backup_restore(backup_id=summary.id, overwrite=True)

    assert len(site.rows()) == 10


def test_a_wrong_key_is_a_clear_error(site: Site, tmp_path: Path) -> None:
    summary = services.backup_create(encrypt=True)

    with override_settings(BACKUP_ENCRYPTION_KEY=OTHER_KEY):
        [outcome] = services.backup_verify(backup_id=summary.id)
        with pytest.raises(BackupError, match="wrong encryption key"):
            services.backup_restore(backup_id=summary.id, target=tmp_path / "r")

    assert "wrong encryption key" in outcome.problem
    assert not (tmp_path / "r" / "db.sqlite3").exists()


def test_an_encrypted_backup_needs_a_key_and_can_come_from_a_file(site: Site, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    from django.conf import settings

    key_file.write_text(settings.BACKUP_ENCRYPTION_KEY + "\n")
    with override_settings(BACKUP_ENCRYPTION_KEY=None, BACKUP_ENCRYPTION_KEY_FILE=str(key_file)):
        summary = services.backup_create(encrypt=True)
        incremental = services.backup_create(incremental=True)
        services.backup_restore(backup_id=incremental.id, target=tmp_path / "r")
    with override_settings(BACKUP_ENCRYPTION_KEY=None), pytest.raises(BackupError, match="needs a key"):
        services.backup_restore(backup_id=summary.id, target=tmp_path / "r2")

    assert summary.encrypted
    assert incremental.encrypted
    assert b"item-1" not in (site.backups / summary.archive).read_bytes()
    assert len(site.rows(tmp_path / "r/db.sqlite3")) == 200


def test_an_interrupted_backup_is_never_listed(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    original = archive._add
    calls = []

    def crash_midway(tar: tarfile.TarFile, member: archive.Member) -> None:
        calls.append(member.name)
        if member.name.startswith("media/"):
            raise KeyboardInterrupt  # as abrupt as a kill: no cleanup in our own except clauses
        original(tar, member)

    monkeypatch.setattr(archive, "_add", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        services.backup_create()

    assert backup_list() == []
    assert [p.name for p in site.backups.iterdir()] == []


def test_a_full_disk_fails_with_one_readable_line(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(self: streams.HashingWriter, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(streams.HashingWriter, "write", no_space)
    with pytest.raises(BackupError, match="No space left on device") as caught:
        services.backup_create()

    assert "\n" not in str(caught.value)
    assert backup_list() == []


def test_leftovers_of_a_killed_run_are_not_listed_and_are_pruned(site: Site) -> None:
    good = services.backup_create()
    site.backups.joinpath(".partial-abc").mkdir()
    site.backups.joinpath(".partial-abc", "x.tar.gz").write_bytes(b"half")
    orphan = site.backups / "20260101T000000Z-abcdef.tar.gz"
    orphan.write_bytes(b"an archive whose sidecar was never written")

    assert [item.id for item in backup_list()] == [good.id]
    outcome = services.backup_prune(now=timezone.now() + timedelta(hours=2))

    assert outcome.partials_removed == 2
    assert sorted(p.name for p in site.backups.iterdir()) == sorted([good.archive, good.sidecar])


@hypothesis.settings(
    max_examples=60, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@hypothesis.given(fraction=st.floats(min_value=0, max_value=1, exclude_max=True), bit=st.integers(0, 7))
def test_any_single_bit_flip_is_caught(site: Site, fraction: float, bit: int) -> None:
    summary = next(iter(backup_summaries().values()), None) or services.backup_create()
    path = site.backups / summary.archive
    data = bytearray(path.read_bytes())
    offset = int(fraction * len(data))
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))
    try:
        assert summary.id in problem_of(summary)
    finally:
        data[offset] ^= 1 << bit
        path.write_bytes(bytes(data))


CHILD = """
import os, sys, time
import django
django.setup()
from django.conf import settings
settings.BACKUP_DATABASE = sys.argv[1]
from backups import archive, services
original = archive._add
def stall(tar, member):
    if member.name.startswith("media/"):
        open(sys.argv[2], "w").close()
        time.sleep(600)
    original(tar, member)
archive._add = stall
services.backup_create()
"""


def test_a_backup_killed_mid_write_leaves_nothing_listed(site: Site, tmp_path: Path) -> None:
    marker = tmp_path / "writing"
    env = {**os.environ, "BACKUP_DIR": str(site.backups), "MEDIA_ROOT": str(site.media)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(site.db), str(marker)], env=env, cwd=ROOT)
    try:
        while not marker.exists() and child.poll() is None:
            time.sleep(0.05)
        assert child.poll() is None, "the child backup ended before it could be killed"
    finally:
        child.kill()
        child.wait()

    assert [p.name.startswith(".partial-") for p in site.backups.iterdir()] == [True]
    assert backup_list() == []
    services.backup_prune(now=timezone.now() + timedelta(hours=2))
    assert list(site.backups.iterdir()) == []
    assert services.backup_verify(backup_id=services.backup_create().id)[0].ok
