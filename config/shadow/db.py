"""One small connection surface over the two kinds of database a shadow moves between.

    db = open_db("file:/srv/brute/var/brute.db")          # stdlib sqlite3 on the embedded file
    db = open_db("http://127.0.0.1:8080", token="...")    # sqld / Turso over Hrana (config.libsql.hrana)
    with db.transaction(immediate=True): db.execute("INSERT ...", [1])

Why our own and not Django's connections: the shadow talks to the database that is *not* in
DATABASES (the target), it must take the write lock on the primary explicitly (BEGIN IMMEDIATE, the
cut-over's pause), and it must work whichever backend Django runs on.

Errors: `ShadowDbError` (with the URL, never the token) for anything the database refused or
could not be reached for.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config.libsql import driver, hrana

Row = tuple[Any, ...]


class ShadowDbError(Exception):
    """A database of the shadow refused a statement or could not be reached."""


def is_remote(url: str) -> bool:
    return not url.startswith("file:") and not url.startswith("/")


def file_path(url: str) -> str:
    return str(Path(url.removeprefix("file:")).expanduser())


class Db:
    """A connection to one database, with explicit transactions (autocommit outside them)."""

    def __init__(self, url: str, *, token: str = "", timeout: float = 30.0) -> None:
        self.url = url
        self.remote = is_remote(url)
        self.in_transaction = False
        try:
            if self.remote:
                self._hrana: hrana.Connection | None = hrana.connect(url, auth_token=token, timeout=timeout)
                self._sqlite: sqlite3.Connection | None = None
            else:
                self._hrana = None
                # isolation_level=None: no implicit BEGIN; timeout: how long BEGIN IMMEDIATE waits.
                # mode=rw: a mistyped path is an error, not a new empty database.
                location = "file:" + urllib.parse.quote(file_path(url)) + "?mode=rw"
                self._sqlite = sqlite3.connect(
                    location, uri=True, isolation_level=None, timeout=timeout, check_same_thread=False
                )
        except (sqlite3.Error, driver.Error) as exc:
            raise ShadowDbError(f"{url}: {exc}") from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            if self._sqlite is not None:
                return [tuple(row) for row in self._sqlite.execute(sql, params).fetchall()]
            assert self._hrana is not None
            return [tuple(row) for row in self._hrana.execute(sql, list(params)).fetchall()]
        except (sqlite3.Error, driver.Error) as exc:
            raise ShadowDbError(f"{self.url}: {exc}") from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            if self._sqlite is not None:
                self._sqlite.executemany(sql, rows)
            else:
                assert self._hrana is not None
                self._hrana.executemany(sql, [list(row) for row in rows])
        except (sqlite3.Error, driver.Error) as exc:
            raise ShadowDbError(f"{self.url}: {exc}") from exc

    def begin(self, *, immediate: bool) -> None:
        self.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        self.in_transaction = True

    def commit(self) -> None:
        self.in_transaction = False
        try:
            if self._sqlite is not None:
                self._sqlite.execute("COMMIT")
            else:
                assert self._hrana is not None
                self._hrana.commit()
        except (sqlite3.Error, driver.Error) as exc:
            raise ShadowDbError(f"{self.url}: {exc}") from exc

    def rollback(self) -> None:
        if not self.in_transaction:
            return
        self.in_transaction = False
        try:
            if self._sqlite is not None:
                if self._sqlite.in_transaction:
                    self._sqlite.execute("ROLLBACK")
            else:
                assert self._hrana is not None
                self._hrana.rollback()
        except (sqlite3.Error, driver.Error):
            pass  # a transaction the server already ended is rolled back; nothing more to do

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[Db]:
        self.begin(immediate=immediate)
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def close(self) -> None:
        self.rollback()
        try:
            if self._sqlite is not None:
                self._sqlite.close()
            elif self._hrana is not None:
                self._hrana.close()
        except (sqlite3.Error, driver.Error):
            pass


def open_db(url: str, *, token: str = "", timeout: float = 30.0) -> Db:
    return Db(url, token=token if is_remote(url) else "", timeout=timeout)
