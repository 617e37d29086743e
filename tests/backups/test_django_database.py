"""The live Django database, end to end: snapshot, restore in place, migrations after restore."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from backups import services
from backups.archive import read_archive
from backups.models import BackupRun
from backups.selectors import backup_summaries
from backups.storage import backup_store

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Path]:
    with override_settings(
        BACKUP_DIR=tmp_path / "backups",
        MEDIA_ROOT=tmp_path / "media",
        BACKUP_STORAGE=None,
        BACKUP_ENCRYPT=False,
        BACKUP_COMPRESSION="gzip",
    ):
        yield tmp_path
    database = Path(settings.DATABASES["default"]["NAME"])
    for kept in database.parent.glob(f"{database.name}.pre-restore-*"):
        kept.unlink()


def emails() -> list[str]:
    return list(User.objects.order_by("email").values_list("email", flat=True))


def test_the_live_database_is_backed_up_and_restored_in_place(live: Path) -> None:
    User.objects.create_user("kept@example.com", "a-long-password")
    summary = services.backup_create()
    User.objects.create_user("later@example.com", "a-long-password")
    User.objects.filter(email="kept@example.com").delete()

    outcome = services.backup_restore(backup_id=summary.id, overwrite=True)

    assert emails() == ["kept@example.com"]
    assert outcome.migrated
    assert outcome.kept


def test_restore_of_an_older_schema_applies_the_newer_migrations(live: Path) -> None:
    call_command("migrate", "backups", "zero", verbosity=0)
    try:
        old = services.backup_create(note="before backups.0001")
    finally:
        call_command("migrate", "backups", verbosity=0)
    BackupRun.objects.create(action=BackupRun.Action.CREATE)
    manifest = read_archive(store=backup_store(), summary=backup_summaries()[old.id], key=None)

    services.backup_restore(backup_id=old.id, overwrite=True)

    assert ["backups", "0001_initial"] not in manifest["migrations"]
    assert ["accounts", "0001_initial"] in manifest["migrations"]
    assert BackupRun.objects.count() == 0  # the table is back, empty as it was at backup time
    conn = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    applied = conn.execute("SELECT count(*) FROM django_migrations WHERE app = 'backups'").fetchone()[0]
    conn.close()
    assert applied == 1


def test_a_remote_database_is_exported_through_the_django_connection(live: Path) -> None:
    User.objects.create_user("remote@example.com", "a-long-password")
    with override_settings(BACKUP_DATABASE="libsql://brute.example.org"):
        services.backup_create()
        User.objects.create_user("second@example.com", "a-long-password")
        incremental = services.backup_create(incremental=True)
        services.backup_restore(backup_id=incremental.id, target=live / "restored")

    conn = sqlite3.connect(live / "restored" / "db.sqlite3")
    restored = [r[0] for r in conn.execute("SELECT email FROM accounts_user ORDER BY email")]
    conn.close()
    assert restored == ["remote@example.com", "second@example.com"]


def test_a_remote_database_is_restored_in_place_through_the_connection(live: Path) -> None:
    kept = User.objects.create_user("kept@example.com", "a-long-password")
    kept_pk = kept.pk
    with override_settings(BACKUP_DATABASE="libsql://brute.example.org"):
        summary = services.backup_create()
        User.objects.create_user("later@example.com", "a-long-password")
        kept.delete()
        with pytest.raises(services.BackupError, match="pass --yes"):
            services.backup_restore(backup_id=summary.id)

        outcome = services.backup_restore(backup_id=summary.id, overwrite=True)

    assert emails() == ["kept@example.com"]
    assert outcome.migrated
    restored = User.objects.get()
    assert restored.pk == kept_pk
    assert restored.check_password("a-long-password")
