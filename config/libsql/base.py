"""Django's SQLite backend running on the official libsql driver (local file, sqld/Turso, replica)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import tee
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.sqlite3 import base as sqlite
from django.utils.asyncio import async_unsafe

from config.libsql import driver, hrana
from config.libsql.creation import DatabaseCreation
from config.libsql.operations import DatabaseOperations

_DRIVER_OPTIONS = frozenset({"auth_token", "sync_url", "sync_interval", "timeout", "encryption_key"})
_SQLITE3_ONLY = ("detect_types", "check_same_thread", "uri")
_FORMAT = re.compile(r"(?<!%)%s")
_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")


def to_qmark(query: str, params: Any) -> tuple[str, Any]:
    """Django writes %s / %(name)s placeholders; the driver reads only qmark (?)."""
    if not isinstance(params, Mapping):
        return _FORMAT.sub("?", query).replace("%%", "%"), params
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        names.append(match.group(1))
        return "?"

    query = _PYFORMAT.sub(replace, query)
    return query, [params[name] for name in names]


class CursorWrapper(driver.Cursor):
    def execute(self, sql: str, params: Any = None) -> driver.Cursor:
        if params is None:
            return super().execute(sql)
        return super().execute(*to_qmark(sql, params))

    def executemany(self, sql: str, param_list: Any) -> driver.Cursor:
        peek, param_list = tee(iter(param_list))
        first = next(peek, None)
        if first is None:
            return super().executemany(sql, [])
        query, _ = to_qmark(sql, first)
        if isinstance(first, Mapping):
            param_list = (to_qmark(sql, params)[1] for params in param_list)
        return super().executemany(query, param_list)


def _connect(database: str, **options: Any) -> Any:
    """A remote sqld/Turso URL gets a `hrana.Connection`; a file or an embedded replica (file +
    sync_url) gets the libsql driver's (`driver.connect` names the options)."""
    if not driver.is_remote(database):
        return driver.connect(database, **options)
    if options.get("sync_url"):
        raise driver.InterfaceError("sync_url applies to a local file, not to a remote database URL")
    if options.get("encryption_key"):
        raise driver.NotSupportedError("encryption_key applies to a local file or a replica, not a URL")
    token, timeout = options.get("auth_token", ""), options.get("timeout", 5.0)
    return hrana.connect(database, auth_token=token, timeout=timeout)


class DatabaseWrapper(sqlite.DatabaseWrapper):
    display_name = "libSQL"
    Database = driver
    creation_class = DatabaseCreation
    ops_class = DatabaseOperations

    @property
    def is_remote(self) -> bool:
        return driver.is_remote(str(self.settings_dict["NAME"]))

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        # Write transactions take the write lock at BEGIN: a deferred transaction that read first
        # cannot upgrade once another connection committed (SQLITE_BUSY however long it waits).
        # sqld queues a BEGIN IMMEDIATE on the server, so the wait costs this process nothing.
        self.transaction_mode: str | None = getattr(self, "transaction_mode", None) or "IMMEDIATE"
        for key in _SQLITE3_ONLY:
            params.pop(key, None)
        unknown = set(params) - _DRIVER_OPTIONS - {"database"}
        if unknown:
            raise ImproperlyConfigured(
                f"DATABASES[{self.alias!r}]['OPTIONS'] has keys the libsql driver does not take: "
                f"{', '.join(sorted(unknown))}"
            )
        database = str(params["database"])
        if not driver.is_remote(database):
            database = str(Path(database.removeprefix("file:")).expanduser())
        return {**params, "database": database}

    @async_unsafe
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        # Unlike sqlite3 there is no create_function: Django's Python SQL functions are replaced in
        # operations.py / compiler.py with plain SQL, or refused with NotSupportedError.
        conn = _connect(**conn_params)
        try:
            if conn.replica:
                conn.sync()
            elif not driver.is_remote(conn_params["database"]):
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA legacy_alter_table = OFF")
                # Readers no longer block the writer; the mode is stored in the file.
                conn.execute("PRAGMA journal_mode = WAL")
            # Remote and replica connections skip the pragmas: sqld refuses legacy_alter_table
            # (a replica forwards it there), and runs each autocommit statement on a server
            # connection of its own, where foreign keys are already on.
            for command in self.init_commands:  # type: ignore[attr-defined]
                if command := command.strip():
                    conn.execute(command)
        except Exception:
            conn.close()
            raise
        return conn

    def create_cursor(self, name: str | None = None) -> CursorWrapper:
        return CursorWrapper(self.connection)

    def _set_autocommit(self, autocommit: bool) -> None:
        with self.wrap_database_errors:
            # sqlite3 commits a pending transaction when autocommit is switched back on.
            if autocommit and self.connection.in_transaction:
                self.connection.commit()
            self.connection.autocommit = autocommit

    def disable_constraint_checking(self) -> bool:
        if self.is_remote:
            # sqld runs each statement outside a transaction on its own server connection with
            # foreign keys on, so the pragma cannot be switched off. The schema editor asks for
            # this; table rebuilds of tables that other rows reference may then fail on sqld.
            return True
        return bool(super().disable_constraint_checking())

    def is_usable(self) -> bool:
        if not self.is_remote:
            return True
        try:
            self.connection.execute("SELECT 1")
        except driver.Error:
            return False
        return True

    def sync(self) -> None:
        """Pull the primary's new frames into this embedded replica (OPTIONS['sync_url'])."""
        self.ensure_connection()
        with self.wrap_database_errors:
            self.connection.sync()
