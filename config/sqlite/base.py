"""Django's SQLite backend with IMMEDIATE transactions, WAL, private files, exact decimals."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.sqlite3 import base as sqlite
from django.db.backends.sqlite3.creation import DatabaseCreation as SQLiteCreation
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations
from django.utils.asyncio import async_unsafe

from config.fields import refuse_sql_arithmetic

PRIVATE = 0o600
SIDECARS = ("-wal", "-shm", "-journal")
PRAGMAS = ("PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL")


def file_path(database: str) -> Path | None:
    """The file behind a sqlite3 database name; None for an in-memory database."""
    if database == ":memory:" or "mode=memory" in database:
        return None
    return Path(database.removeprefix("file:").split("?", 1)[0]).expanduser()


def make_private(path: Path) -> None:
    """Create `path` 0600 if it is missing (SQLite then opens the empty file as a new database and
    copies its mode to -wal/-shm); narrow an existing one, and its sidecars, to 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
        return
    except FileExistsError:
        pass
    except FileNotFoundError:
        return  # no such folder: sqlite3 reports it as the OperationalError callers expect
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDECARS)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            candidate.chmod(mode & PRIVATE)


class DatabaseOperations(SQLiteOperations):
    def check_expression_support(self, expression: Any) -> None:
        refuse_sql_arithmetic(expression)
        super().check_expression_support(expression)


class DatabaseCreation(SQLiteCreation):
    def destroy_test_db(
        self,
        old_database_name: str | None = None,
        verbosity: int = 1,
        keepdb: bool = False,
        suffix: str | None = None,
    ) -> None:
        """Django removes the test database's file (unless `keepdb`); its writer lock goes with it."""
        test = self.connection.settings_dict if suffix is None else self.get_test_db_clone_settings(suffix)
        name = str(test["NAME"])
        super().destroy_test_db(old_database_name, verbosity, keepdb, suffix)
        path = None if keepdb or self.is_in_memory_db(name) else file_path(name)
        if path is not None:
            writer_lock_remove(path)


class DatabaseWrapper(sqlite.DatabaseWrapper):
    ops_class = DatabaseOperations
    creation_class = DatabaseCreation

    @async_unsafe
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        path = file_path(str(conn_params["database"]))
        if path is not None:
            make_private(path)
        conn = super().get_new_connection(conn_params)
        if path is not None:
            for pragma in PRAGMAS:
                conn.execute(pragma)
        return conn


_writer_files: dict[Path, int] = {}
_writer_files_lock = threading.Lock()


@contextmanager
def writer_turn(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Across the processes that share an embedded database file, one writer at a time that opts
    in (the paper order writers): an exclusive `flock` on `<file>-writer.lock`, 0600, waited for in
    the kernel without the GIL. SQLite's own busy handler polls instead, sleeping up to 100 ms
    between tries, and a process that commits back to back takes the lock again before the sleeper
    wakes: under load the other gunicorn worker's writes starved for hundreds of ms (issue 11's
    p99). The kernel drops the lock with a process that dies. A no-op on other databases."""
    settings = connections[alias].settings_dict
    path = file_path(str(settings["NAME"])) if settings["ENGINE"] == "config.sqlite" else None
    if path is None:
        yield
        return
    lock = writer_lock_path(path)
    with _writer_files_lock:
        fd = _writer_files.get(lock)
        if fd is None:
            fd = _writer_files[lock] = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def writer_lock_path(database: Path) -> Path:
    return Path(f"{database}-writer.lock")


def writer_lock_remove(database: Path) -> None:
    """Close this process's handle on the database's writer lock and delete the file (the database
    itself is gone: nobody can be waiting on it)."""
    lock = writer_lock_path(database)
    with _writer_files_lock:
        fd = _writer_files.pop(lock, None)
    if fd is not None:
        os.close(fd)
    lock.unlink(missing_ok=True)
