"""Test databases are always embedded files (TEST NAME), never in-memory and never remote.

libsql cannot open SQLite's shared-cache memory URIs, and a test run must not write through an
embedded replica or a remote URL into a real database, so the remote/replica OPTIONS are dropped
for the test database and restored afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3.creation import DatabaseCreation as SQLiteCreation

# SQLite's WAL and rollback journal files, and libsql's replica index.
_SIDECARS = ("-wal", "-shm", "-journal", "-client_wal_index", "-info")
_REMOTE_OPTIONS = ("auth_token", "sync_url", "sync_interval", "encryption_key")


def remove_database_files(name: str) -> None:
    for suffix in ("", *_SIDECARS):
        Path(name + suffix).unlink(missing_ok=True)


class DatabaseCreation(SQLiteCreation):
    _saved_options: dict[str, Any] | None = None

    def _get_test_db_name(self) -> str:
        name = self.connection.settings_dict["TEST"]["NAME"]
        if not name or self.is_in_memory_db(name):
            return str(Path(tempfile.gettempdir()) / f"brute-test-{self.connection.alias}.db")
        return str(name)

    def _create_test_db(self, verbosity: int, autoclobber: bool, keepdb: bool = False) -> str:
        options = self.connection.settings_dict["OPTIONS"]
        self._saved_options = dict(options)
        for key in _REMOTE_OPTIONS:
            options.pop(key, None)
        name = self._get_test_db_name()
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        if not keepdb:
            # Stale WAL frames must not be replayed into the fresh file Django is about to create.
            for suffix in _SIDECARS:
                Path(name + suffix).unlink(missing_ok=True)
        return str(super()._create_test_db(verbosity, autoclobber, keepdb))  # type: ignore[misc]

    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        if test_database_name:
            remove_database_files(test_database_name)
        if self._saved_options is not None:
            self.connection.settings_dict["OPTIONS"].update(self._saved_options)
            self._saved_options = None

    def _clone_test_db(self, suffix: str, verbosity: int, keepdb: bool = False) -> None:
        # The file copy must hold every committed page, including those still in the WAL.
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        super()._clone_test_db(suffix, verbosity, keepdb)  # type: ignore[misc]

    def setup_worker_connection(self, _worker_id: int) -> None:
        # The clone is a file whatever the start method, so each worker simply points at it.
        self.connection.settings_dict.update(self.get_test_db_clone_settings(str(_worker_id)))
        self.connection.close()
