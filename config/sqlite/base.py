"""Django's SQLite backend with IMMEDIATE transactions, WAL, private files, exact decimals."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base as sqlite
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


class DatabaseWrapper(sqlite.DatabaseWrapper):
    ops_class = DatabaseOperations

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
