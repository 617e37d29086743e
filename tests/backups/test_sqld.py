"""A real libSQL server (sqld on loopback): exported through its connection, restored through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from backups import services
from tests.backups.conftest import Site
from tests.config.conftest import Sqld, database_alias

pytestmark = pytest.mark.sqld


def test_a_sqld_database_is_backed_up_and_restored_through_its_connection(
    site: Site, sqld_servers: Sqld, django_db_setup: None, django_db_blocker: Any, tmp_path: Path
) -> None:
    url = sqld_servers.start("backups")
    with (
        database_alias("remote", url, {"auth_token": sqld_servers.token}),
        django_db_blocker.unblock(),
        override_settings(BACKUP_DATABASE=url),
    ):
        call_command("migrate", database="remote", interactive=False, verbosity=0)
        kept = User.objects.db_manager("remote").create_user("kept@example.com", "a-long-password")
        full = services.backup_create()
        User.objects.using("remote").filter(pk=kept.pk).delete()
        User.objects.db_manager("remote").create_user("later@example.com", "a-long-password")
        incremental = services.backup_create(incremental=True)

        services.backup_restore(backup_id=full.id, overwrite=True)
        after_full = list(User.objects.using("remote").values_list("email", flat=True))
        services.backup_restore(backup_id=incremental.id, target=tmp_path / "copy")

    assert after_full == ["kept@example.com"]
    assert (tmp_path / "copy" / "db.sqlite3").exists()
    assert all(o.ok for o in services.backup_verify(all_backups=True))
