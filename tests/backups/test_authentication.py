"""With a backup key configured, only backups vouched for by that key verify or restore.

The attacker of these tests can write to the backup folder and holds a copy of the live database,
but not the key: they pack a doctored database with the project's own archive writer, a matching
manifest and a sidecar saying `"encrypted": false` with every checksum recomputed.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from backups import services
from backups.archive import DATABASE, PAGE_HASHES, member_from_bytes, member_from_file, write_archive
from backups.crypto import sidecar_mac
from backups.errors import UnauthenticatedError
from backups.manifest import FORMAT, FULL, Summary, new_backup_id
from backups.snapshot import hash_pages, page_size_of, snapshot_file
from backups.storage import backup_store
from tests.backups.conftest import OTHER_KEY, Site

ROOT = Path(__file__).resolve().parents[2]


def accounts(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT email, role FROM account ORDER BY email").fetchall()
    finally:
        conn.close()


def triggers(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    finally:
        conn.close()


@pytest.fixture
def live(site: Site) -> Site:
    """The site with an accounts table holding one operator, backed up encrypted with the key."""
    site.execute("CREATE TABLE account (email TEXT PRIMARY KEY, role TEXT NOT NULL)")
    site.execute("INSERT INTO account VALUES ('operator@example.com', 'admin')")
    return site


def forge(site: Site, tmp_path: Path, doctor: str, *, mac_key: bytes | None = None) -> Summary:
    """Packs a doctored copy of the live database as the newest full backup, as an attacker would."""
    stolen = tmp_path / "stolen.sqlite3"
    site.backups.mkdir(exist_ok=True)
    snapshot_file(source=site.db, target=stolen)
    conn = sqlite3.connect(stolen)
    with conn:
        conn.executescript(doctor)
    conn.close()
    created = timezone.now() + timedelta(minutes=5)
    backup_id = new_backup_id(created)
    page_size = page_size_of(stolen)
    hashes, db_sha = hash_pages(stolen, page_size)
    members = [member_from_bytes(PAGE_HASHES, hashes), member_from_file(DATABASE, stolen, db_sha)]
    database = {"page_size": page_size, "page_count": len(hashes) // 32, "size": stolen.stat().st_size}
    manifest = {
        "format": FORMAT,
        "id": backup_id,
        "kind": FULL,
        "parent": None,
        "created": created.isoformat(),
        "app_version": "x",
        "note": "",
        "migrations": [],
        "database": {**database, "sha256": db_sha},
        "files": [],
        "members": {m.name: {"size": m.size, "sha256": m.sha256} for m in members},
    }
    archive = f"{backup_id}.tar"
    size, sha, manifest_sha = write_archive(
        target=site.backups / archive, compression="none", key=None, manifest=manifest, members=members
    )
    summary = Summary(
        id=backup_id,
        kind=FULL,
        parent=None,
        parent_archive_sha256=None,
        created=manifest["created"],
        app_version="x",
        note="",
        compression="none",
        encrypted=False,
        key_id=None,
        archive=archive,
        size=size,
        archive_sha256=sha,
        manifest_sha256=manifest_sha,
        file_count=0,
        database_size=database["size"],
    )
    if mac_key is not None:
        summary = replace(summary, mac=sidecar_mac(mac_key, summary.signed_body()))
    (site.backups / summary.sidecar).write_bytes(summary.to_json())
    return summary


ADD_ADMIN = "INSERT INTO account VALUES ('attacker@evil.example', 'admin');"
ADD_TRIGGER = (
    "CREATE TRIGGER promote AFTER INSERT ON item BEGIN "
    "UPDATE account SET role = 'admin'; INSERT INTO account VALUES ('attacker@evil.example', 'admin'); END;"
)


@pytest.mark.parametrize("doctor", [ADD_ADMIN, ADD_TRIGGER], ids=["admin-user", "malicious-trigger"])
@pytest.mark.parametrize("signed_with", [None, OTHER_KEY], ids=["unsigned", "signed-with-another-key"])
def test_a_forged_backup_neither_verifies_nor_restores(
    live: Site, tmp_path: Path, doctor: str, signed_with: str | None
) -> None:
    with override_settings(BACKUP_ENCRYPT=True):
        real = services.backup_create()
    other = base64.b64decode(signed_with) if signed_with else None
    forged = forge(live, tmp_path, doctor, mac_key=other)
    before = live.db.read_bytes()

    outcomes = {o.backup_id: o for o in services.backup_verify(all_backups=True)}
    with pytest.raises(UnauthenticatedError, match=forged.id):
        services.backup_restore(backup_id=forged.id, overwrite=True)
    with pytest.raises(CommandError, match="authenticat"):
        call_command("backup", "restore", forged.id, "--yes")

    assert outcomes[real.id].ok
    assert not outcomes[forged.id].ok
    assert "authenticat" in outcomes[forged.id].problem
    assert live.db.read_bytes() == before
    assert accounts(live.db) == [("operator@example.com", "admin")]
    assert triggers(live.db) == []
    assert sorted(p.name for p in live.root.iterdir() if p.name.startswith((".restore-", "app.db.pre"))) == []


def test_an_unsigned_unencrypted_backup_restores_only_with_the_explicit_flag(
    live: Site, tmp_path: Path
) -> None:
    forged = forge(live, tmp_path, ADD_ADMIN)

    [refused] = services.backup_verify(backup_id=forged.id)
    [accepted] = services.backup_verify(backup_id=forged.id, allow_unauthenticated=True)
    call_command("backup", "restore", forged.id, "--yes", "--allow-unauthenticated")

    assert not refused.ok
    assert "--allow-unauthenticated" in refused.problem
    assert accepted.ok
    assert ("attacker@evil.example", "admin") in accounts(live.db)


def test_a_flag_does_not_accept_a_sidecar_whose_mac_fails(live: Site, tmp_path: Path) -> None:
    forged = forge(live, tmp_path, ADD_ADMIN, mac_key=base64.b64decode(OTHER_KEY))

    with pytest.raises(UnauthenticatedError, match="fails authentication"):
        services.backup_restore(backup_id=forged.id, overwrite=True, allow_unauthenticated=True)


def test_flipping_the_encrypted_flag_of_a_real_backup_is_refused(live: Site) -> None:
    real = services.backup_create(encrypt=True)
    sidecar = live.backups / real.sidecar
    doctored = replace(real, encrypted=False, key_id=None)
    sidecar.write_bytes(replace(doctored, mac=real.mac).to_json())

    [outcome] = services.backup_verify(backup_id=real.id)

    assert not outcome.ok
    assert "fails authentication" in outcome.problem


def test_the_key_identity_is_checked_before_anything_is_written(live: Site, tmp_path: Path) -> None:
    real = services.backup_create(encrypt=True)
    target = tmp_path / "restored"

    with (
        override_settings(BACKUP_ENCRYPTION_KEY=OTHER_KEY),
        pytest.raises(Exception, match="wrong encryption key"),
    ):
        services.backup_restore(backup_id=real.id, target=target)

    assert not target.exists()


def test_backups_made_with_the_key_verify_and_restore_encrypted_or_not(live: Site, tmp_path: Path) -> None:
    plain = services.backup_create(encrypt=False)
    live.execute("INSERT INTO account VALUES ('second@example.com', 'trader')")
    sealed = services.backup_create(incremental=True)

    assert plain.mac is not None
    assert sealed.mac is not None
    assert all(o.ok for o in services.backup_verify(all_backups=True))
    services.backup_restore(backup_id=sealed.id, target=tmp_path / "r")
    assert len(accounts(tmp_path / "r" / "db.sqlite3")) == 2


def test_an_encrypted_backup_from_before_signed_sidecars_still_verifies(live: Site) -> None:
    real = services.backup_create(encrypt=True)
    (live.backups / real.sidecar).write_bytes(replace(real, mac=None).to_json())

    assert services.backup_verify(backup_id=real.id)[0].ok


def test_without_a_key_unencrypted_backups_verify_as_before(live: Site) -> None:
    with override_settings(BACKUP_ENCRYPTION_KEY=None):
        summary = services.backup_create()

        assert summary.mac is None
        assert services.backup_verify(backup_id=summary.id)[0].ok


def test_an_incremental_is_not_built_on_a_forged_parent(live: Site, tmp_path: Path) -> None:
    services.backup_create()
    forge(live, tmp_path, ADD_ADMIN)

    with pytest.raises(UnauthenticatedError):
        services.backup_create(incremental=True)


def test_a_damaged_incremental_is_named_and_not_its_full_backup(live: Site) -> None:
    with override_settings(BACKUP_COMPRESSION="none"):
        full = services.backup_create()
        live.execute("DELETE FROM item WHERE id < 5")
        incremental = services.backup_create(incremental=True)
    path = live.backups / incremental.archive
    data = bytearray(path.read_bytes())
    data[600] ^= 1  # inside manifest.json, the first member
    path.write_bytes(bytes(data))

    outcomes = {o.backup_id: o for o in services.backup_verify(all_backups=True)}

    assert outcomes[full.id].ok
    assert not outcomes[incremental.id].ok
    assert incremental.id in outcomes[incremental.id].problem
    assert "chain is broken" not in outcomes[incremental.id].problem


CHILD = """
import sys, time
import django
django.setup()
from django.conf import settings
settings.BACKUP_DATABASE = sys.argv[1]
from backups import rebuild, services
original = rebuild._copy
def stall(stream, target):
    if stream.name.startswith("media/"):
        open(sys.argv[2], "w").close()
        time.sleep(600)
    original(stream, target)
rebuild._copy = stall
services.backup_restore(backup_id=sys.argv[3], overwrite=True)
"""


def test_prune_removes_what_a_killed_restore_left(live: Site, tmp_path: Path) -> None:
    with override_settings(BACKUP_ENCRYPTION_KEY=None):
        summary = services.backup_create()
    marker = tmp_path / "restoring"
    env = {
        **os.environ,
        "BACKUP_DIR": str(live.backups),
        "MEDIA_ROOT": str(live.media),
        "BACKUP_ENCRYPTION_KEY": "",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(live.db), str(marker), summary.id], env=env, cwd=ROOT
    )
    try:
        while not marker.exists() and child.poll() is None:
            time.sleep(0.05)
        assert child.poll() is None, "the child restore ended before it could be killed"
    finally:
        child.kill()
        child.wait()
    left = sorted(p for p in live.root.iterdir() if p.name.startswith(".restore-"))
    assert left

    soon = services.backup_prune()
    later = services.backup_prune(now=timezone.now() + timedelta(hours=2))

    assert soon.restore_leftovers_removed == 0  # a restore may still be running
    assert later.restore_leftovers_removed == len(left)
    assert not any(p.exists() for p in left)
    assert backup_store().exists(summary.sidecar)
