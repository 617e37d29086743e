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
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config.libsql import driver, hrana

Row = tuple[Any, ...]


class ShadowDbError(Exception):
    """A database of the shadow refused a statement or could not be reached."""


class StatementFailed(ShadowDbError):
    """`Db.apply`: the statement at `index` of the list given failed; nothing of the list committed."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


# One write transaction as a list: each SQL text with the parameter sets it runs with, in order.
Statements = Sequence[tuple[str, Sequence[Sequence[Any]]]]


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

    def data_version(self) -> int | None:
        """SQLite's `PRAGMA data_version` of a local file: it changes when another connection has
        committed since this connection last looked. None for a remote database (each Hrana request
        may run on another server connection, so the value means nothing there)."""
        if self._sqlite is None:
            return None
        return int(self.execute("PRAGMA data_version")[0][0])

    def apply(self, statements: Statements) -> list[int]:
        """Runs `statements` in one write transaction (BEGIN IMMEDIATE ... COMMIT), all or nothing;
        returns the rows each changed (summed over its parameter sets).

        Remote: the whole transaction is one Hrana batch in one HTTP request, on a stream opened and
        closed by that request, each step conditional on the one before and a ROLLBACK when the
        COMMIT did not run. One round trip rather than one per statement: the shadow's server does
        a fraction of the work per shipped batch (the shipper shares the primary's CPU). A BEGIN
        refused as busy is sent again for up to `timeout` seconds, as the driver does.
        Errors: StatementFailed (which statement) when one fails, ShadowDbError otherwise."""
        if self._sqlite is not None:
            return self._apply_local(self._sqlite, statements)
        assert self._hrana is not None
        return self._apply_remote(self._hrana, statements)

    def _apply_local(self, conn: sqlite3.Connection, statements: Statements) -> list[int]:
        counts: list[int] = []
        with self.transaction():
            for index, (sql, rows) in enumerate(statements):
                try:
                    if len(rows) == 1:  # executemany takes DML only; a PRAGMA runs once
                        counts.append(max(conn.execute(sql, rows[0]).rowcount, 0))
                    else:
                        counts.append(max(conn.executemany(sql, rows).rowcount, 0) if rows else 0)
                except sqlite3.Error as exc:
                    raise StatementFailed(f"{self.url}: {exc}", index) from exc
        return counts

    def _apply_remote(self, conn: hrana.Connection, statements: Statements) -> list[int]:
        try:
            steps, owners = _steps(statements)
        except driver.Error as exc:
            raise ShadowDbError(f"{self.url}: {exc}") from exc
        commit = len(steps) - 2
        deadline = time.monotonic() + conn.busy_wait
        pause = 0.005
        while True:
            try:
                results, errors = _batch(conn, steps)
            except driver.Error as exc:
                raise ShadowDbError(f"{self.url}: {exc}") from exc
            busy = errors[0] is not None and hrana.retryable(str(errors[0].get("message", "")))
            if not busy or time.monotonic() >= deadline:
                break
            time.sleep(pause)  # the BEGIN found the write lock taken: nothing ran
            pause = min(pause * 2, 0.2)
        for step, error in enumerate(errors[: commit + 1]):
            if error is not None:
                message = f"{self.url}: {error.get('message', '')} ({error.get('code')})"
                raise StatementFailed(message, owners[step]) if owners[step] >= 0 else ShadowDbError(message)
        if results[commit] is None:
            raise ShadowDbError(f"{self.url}: the COMMIT did not run")
        counts = [0] * len(statements)
        for step, result in enumerate(results[:commit]):
            if owners[step] >= 0 and result is not None:
                counts[owners[step]] += int(result.get("affected_row_count", 0))
        return counts

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


def _steps(statements: Statements) -> tuple[list[dict[str, Any]], list[int]]:
    """The Hrana batch steps of one transaction: BEGIN IMMEDIATE, every statement (each only if the
    step before succeeded), COMMIT, and ROLLBACK unless the COMMIT succeeded; with the index in
    `statements` each step comes from (-1 for BEGIN, COMMIT and ROLLBACK)."""
    steps: list[dict[str, Any]] = [{"stmt": {"sql": "BEGIN IMMEDIATE", "want_rows": False}}]
    owners = [-1]
    for index, (sql, rows) in enumerate(statements):
        for params in rows:
            stmt = hrana._statement(sql, params)  # the driver's own value encoding
            stmt["want_rows"] = False
            steps.append({"stmt": stmt, "condition": {"type": "ok", "step": len(steps) - 1}})
            owners.append(index)
    commit = len(steps)
    steps.append(
        {"stmt": {"sql": "COMMIT", "want_rows": False}, "condition": {"type": "ok", "step": commit - 1}}
    )
    rollback = {"type": "not", "cond": {"type": "ok", "step": commit}}
    steps.append({"stmt": {"sql": "ROLLBACK", "want_rows": False}, "condition": rollback})
    return steps, [*owners, -1, -1]


def _batch(conn: hrana.Connection, steps: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """One Hrana batch on a stream of its own, closed by the same request: (step results, step
    errors), None where a step did not run or did not fail. Through the connection's own transport
    (its auth header, error mapping and keep-alive channel); the batch request itself is the
    protocol's (HTTP_V2_SPEC "batch"), which the DB-API surface of config.libsql.hrana has no
    call for. Errors: driver.Error when the request fails as a whole."""
    answer = conn._post(
        {"baton": None, "requests": [{"type": "batch", "batch": {"steps": steps}}, {"type": "close"}]}
    )
    outcome = answer["results"][0]
    if outcome["type"] != "ok":
        error = outcome["error"]
        raise hrana.ServerError(error.get("message", ""), error.get("code"))
    batch = outcome["response"]["result"]
    return list(batch["step_results"]), list(batch["step_errors"])


def open_db(url: str, *, token: str = "", timeout: float = 30.0) -> Db:
    return Db(url, token=token if is_remote(url) else "", timeout=timeout)
