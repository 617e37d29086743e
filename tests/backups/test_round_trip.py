from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from django.test import override_settings

from backups import services
from backups.errors import BackupError
from backups.selectors import backup_list
from tests.backups.conftest import Site


def test_a_full_backup_restores_equal_data(site: Site, tmp_path: Path) -> None:
    rows, files = site.rows(), site.files()
    os.utime(site.media / "notes.txt", (1_700_000_000, 1_700_000_000))
    mtime = (site.media / "notes.txt").stat().st_mtime
    summary = services.backup_create(note="before deploy")
    site.execute("DELETE FROM item WHERE id < 50")
    (site.media / "notes.txt").write_text("overwritten")

    services.backup_restore(backup_id=summary.id, overwrite=True)

    assert site.rows() == rows
    assert site.files() == files
    assert (site.media / "notes.txt").stat().st_mtime == mtime
    assert (site.backups / summary.archive).stat().st_mode & 0o077 == 0
    assert summary.kind == "full"
    assert summary.file_count == 3


def test_restore_into_a_target_leaves_the_live_data_alone(site: Site, tmp_path: Path) -> None:
    summary = services.backup_create()
    site.execute("DELETE FROM item")
    target = tmp_path / "elsewhere"

    services.backup_restore(backup_id=summary.id, target=target)

    assert len(site.rows(target / "db.sqlite3")) == 200
    assert site.rows() == []
    assert site.files(target / "media") == site.files()


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_incremental_chain_restores_each_point_in_time(site: Site, tmp_path: Path, compression: str) -> None:
    with override_settings(BACKUP_COMPRESSION=compression):
        full = services.backup_create()
        site.execute("UPDATE item SET name = 'changed' WHERE id = 7")
        (site.media / "avatars" / "b.png").write_bytes(os.urandom(3000))
        (site.media / "notes.txt").unlink()
        first = services.backup_create(incremental=True)
        state_first = (site.rows(), site.files())
        site.execute("INSERT INTO item (name, payload) VALUES ('new', x'00')")
        (site.media / "notes.txt").write_text("back again")
        second = services.backup_create(incremental=True)
        state_second = (site.rows(), site.files())

        services.backup_restore(backup_id=first.id, target=tmp_path / "r1")
        services.backup_restore(backup_id=second.id, target=tmp_path / "r2")

    assert (first.parent, second.parent) == (full.id, first.id)
    assert (site.rows(tmp_path / "r1/db.sqlite3"), site.files(tmp_path / "r1/media")) == state_first
    assert (site.rows(tmp_path / "r2/db.sqlite3"), site.files(tmp_path / "r2/media")) == state_second


def test_an_incremental_stores_only_changed_pages_and_files(site: Site) -> None:
    site.execute("INSERT INTO item (name, payload) SELECT name || '-more', randomblob(2000) FROM item")
    (site.media / "big.bin").write_bytes(os.urandom(400_000))
    full = services.backup_create()
    site.execute("UPDATE item SET name = 'x' WHERE id = 3")

    incremental = services.backup_create(incremental=True)

    assert incremental.size < full.size / 20


def test_an_incremental_needs_a_backup_to_build_on(site: Site) -> None:
    with pytest.raises(BackupError, match="create a full backup first"):
        services.backup_create(incremental=True)


def test_a_backup_taken_during_concurrent_writes_is_consistent(site: Site, tmp_path: Path) -> None:
    site.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL)")
    stop = threading.Event()
    written = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(site.db, timeout=30)
        while not stop.is_set():
            with conn:  # each commit adds one item and its ledger line together
                cursor = conn.execute("INSERT INTO item (name, payload) VALUES ('w', randomblob(500))")
                conn.execute("INSERT INTO ledger (item_id) VALUES (?)", (cursor.lastrowid,))
            written.set()
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        written.wait(10)
        summary = services.backup_create()
        incremental = services.backup_create(incremental=True)
    finally:
        stop.set()
        thread.join()
    for backup in (summary, incremental):
        target = tmp_path / backup.id
        services.backup_restore(backup_id=backup.id, target=target)
        conn = sqlite3.connect(target / "db.sqlite3")
        items = conn.execute("SELECT count(*) FROM item WHERE name = 'w'").fetchone()[0]
        ledger = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        assert items == ledger
        assert items > 0


def test_restore_refuses_to_overwrite_without_yes(site: Site) -> None:
    summary = services.backup_create()

    with pytest.raises(BackupError, match="pass --yes"):
        services.backup_restore(backup_id=summary.id)


def test_restore_removes_stale_wal_files(site: Site) -> None:
    summary = services.backup_create()
    holder = sqlite3.connect(site.db)  # keeps a -wal file around, as a running app would
    holder.execute("INSERT INTO item (name) VALUES ('late')")
    holder.commit()

    services.backup_restore(backup_id=summary.id, overwrite=True)
    holder.close()

    assert not Path(f"{site.db}-wal").exists() or Path(f"{site.db}-wal").stat().st_size == 0
    assert len(site.rows()) == 200


def test_list_shows_backups_oldest_first_with_their_chain(site: Site) -> None:
    full = services.backup_create()
    incremental = services.backup_create(incremental=True, note="hourly")

    listed = [item.as_dict() for item in backup_list()]

    assert [(r["id"], r["kind"], r["parent"], r["status"]) for r in listed] == [
        (full.id, "full", None, "ok"),
        (incremental.id, "incremental", full.id, "ok"),
    ]


def test_a_django_storage_backend_can_hold_the_backups(site: Site, tmp_path: Path) -> None:
    from django.conf import settings

    storages = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "bucket")},
        },
    }
    with override_settings(STORAGES=storages, BACKUP_STORAGE="backups"):
        full = services.backup_create()
        site.execute("DELETE FROM item WHERE id > 100")
        incremental = services.backup_create(incremental=True)
        outcomes = services.backup_verify(all_backups=True)
        services.backup_restore(backup_id=incremental.id, target=tmp_path / "r")

    assert sorted(p.name for p in (tmp_path / "bucket").iterdir()) == sorted(
        [full.archive, full.sidecar, incremental.archive, incremental.sidecar]
    )
    assert all(o.ok for o in outcomes)
    assert len(site.rows(tmp_path / "r/db.sqlite3")) == 100
