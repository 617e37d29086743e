"""A DB-API 2.0 face over the `libsql` driver, shaped like the stdlib sqlite3 module Django expects.

Used for local files and embedded replicas; `connect()` hands remote URLs to hrana.py, which
shares this module's error classes, parameter adaptation and Cursor.

The driver (0.1.8) differs from sqlite3 in ways Django notices, all handled here:
- every error is a plain ValueError: translated to the PEP 249 classes below by message;
- integers outside the 32-bit range are bound as doubles (2**53 + 1 comes back as 2**53): they are
  bound as text wrapped in CAST(? AS INTEGER) instead;
- datetime, date, time, Decimal, memoryview and bytearray parameters are rejected or bound as
  floats: adapted the way sqlite3 and Django's SQLite backend adapt them;
- `isolation_level` is read-only: connections are opened with None (no implicit BEGIN) and
  `autocommit = False` is emulated with an explicit BEGIN before DML, like sqlite3's legacy mode;
- a cursor's rowcount accumulates over every statement it ran: each execute uses a fresh cursor,
  read in full at once (see Cursor);
- using a closed connection panics in Rust: refused here with InterfaceError.
"""

from __future__ import annotations

import datetime
import decimal
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import libsql

T = TypeVar("T")

paramstyle = "qmark"
apilevel = "2.0"
threadsafety = 1
sqlite_version_info: tuple[int, int, int] = libsql.sqlite_version_info
Binary = bytes


class Warning(Exception):  # PEP 249 requires the name, shadowing the builtin
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


# Local errors read "UNIQUE constraint failed: t.s"; sqld wraps the same text in a Hrana envelope.
_ERROR_PATTERNS: list[tuple[re.Pattern[str], type[Error]]] = [
    (re.compile(r"constraint failed|SQLITE_CONSTRAINT|datatype mismatch"), IntegrityError),
    (re.compile(r"Unsupported parameter type|Expected a list or tuple|bindings"), ProgrammingError),
    (re.compile(r"too big|SQLITE_TOOBIG"), DataError),
    (re.compile(r"malformed|not a database|SQLITE_CORRUPT|SQLITE_NOTADB"), DatabaseError),
]


def translate(exc: ValueError) -> Error:
    message = str(exc)
    for pattern, error_class in _ERROR_PATTERNS:
        if pattern.search(message):
            return error_class(message)
    return OperationalError(message)


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except ValueError as exc:
        raise translate(exc) from exc


_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)


class _Wide(str):
    """An integer the driver would bind as a double: bound as text and cast back in SQL."""


def adapt(value: Any) -> Any:
    if value is None or isinstance(value, str | bytes | float):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if value in _INT32:
            return value
        if value not in _INT64:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return _Wide(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    raise ProgrammingError(f"Error binding parameter: type {type(value).__name__!r} is not supported")


# Literals, quoted identifiers and comments are matched first so a "?" inside them is left alone.
_PLACEHOLDER = re.compile(r"""'[^']*'|"[^"]*"|`[^`]*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/|\?""", re.DOTALL)


def bind(sql: str, params: Sequence[Any] | None) -> tuple[str, tuple[Any, ...]]:
    if not params:
        return sql, ()
    if isinstance(params, dict):
        raise ProgrammingError("libsql supports only qmark (?) parameters")
    values = tuple(adapt(value) for value in params)
    wide = [isinstance(value, _Wide) for value in values]
    if not any(wide):
        return sql, values
    positions = iter(wide)

    def placeholder(match: re.Match[str]) -> str:
        if match.group() != "?":
            return match.group()
        return "CAST(? AS INTEGER)" if next(positions, False) else "?"

    return _PLACEHOLDER.sub(placeholder, sql), tuple(str(v) if isinstance(v, _Wide) else v for v in values)


_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def is_dml(sql: str) -> bool:
    return _DML.match(sql) is not None


_BUSY = re.compile(r"database is locked|SQLITE_BUSY|database table is locked")


class Connection:
    def __init__(self, raw: libsql.Connection, *, replica: bool, busy_wait: float = 0.0) -> None:
        self._raw: libsql.Connection | None = raw
        self.replica = replica
        # The driver keeps the GIL while it sleeps in SQLite's busy handler, so a thread waiting for
        # the write lock stops the very thread that holds it from committing (measured: a 1 s
        # transaction made the waiter fail after its full 5 s timeout). The driver's own timeout is
        # therefore 0, and waits happen here, in time.sleep, which lets other threads run.
        self.busy_wait = busy_wait
        # Django toggles this through DatabaseWrapper._set_autocommit; True means no implicit BEGIN.
        self.autocommit = True

    @property
    def raw(self) -> libsql.Connection:
        if self._raw is None:
            raise InterfaceError("Cannot operate on a closed database.")
        return self._raw

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.in_transaction)

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, param_list: Any) -> Cursor:
        return self.cursor().executemany(sql, param_list)

    def begin_if_needed(self, sql: str) -> None:
        if not self.autocommit and is_dml(sql) and not self.in_transaction:
            self.retrying(lambda: self.raw.execute("BEGIN"))

    def retrying(self, action: Callable[[], T]) -> T:
        """Runs `action`, waiting out SQLITE_BUSY for up to `busy_wait` seconds without holding the GIL."""
        deadline = time.monotonic() + self.busy_wait
        pause = 0.001
        while True:
            try:
                return action()
            except ValueError as exc:
                if not _BUSY.search(str(exc)) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def run(self, sql: str, param_list: Any) -> tuple[Any, list[tuple[Any, ...]], int, int | None]:
        """Executes `sql` once per parameter set: (description, rows of the last, rowcount, lastrowid)."""
        # One driver cursor per call: its rowcount then sums what every statement of a batch changed.
        raw = self.raw.cursor()
        rows: list[tuple[Any, ...]] = []
        with translated_errors():
            self.begin_if_needed(sql)
            for params in param_list:
                statement = bind(sql, params)

                # The driver steps a statement lazily: an INSERT ... RETURNING meets the write lock
                # in fetchall(), not execute(). A busy statement changed nothing, so both are re-run.
                def step(statement: tuple[str, tuple[Any, ...]] = statement) -> list[tuple[Any, ...]] | None:
                    raw.execute(*statement)
                    return raw.fetchall() if raw.description else None

                fetched = self.retrying(step)
                if fetched is not None:
                    rows = fetched
        # The driver reports () for statements without a result set; PEP 249 says None.
        rowcount = raw.rowcount if is_dml(sql) else -1
        return raw.description or None, rows, rowcount, raw.lastrowid

    def commit(self) -> None:
        # A COMMIT refused as busy leaves the transaction, and its write lock, open: wait it out too.
        with translated_errors():
            self.retrying(self.raw.commit)

    def rollback(self) -> None:
        with translated_errors():
            self.retrying(self.raw.rollback)

    def sync(self) -> None:
        if not self.replica:
            raise NotSupportedError("sync() needs an embedded replica (OPTIONS['sync_url'])")
        with translated_errors():
            self.raw.sync()

    def close(self) -> None:
        if self._raw is not None:
            raw, self._raw = self._raw, None
            raw.close()


class Cursor:
    """A cursor over `Connection.run` (this module's libsql connection or `hrana.Connection`).

    Rows are read in full at execute time and the driver's cursor released at once.

    A driver cursor left half-read keeps its statement, and with it a read snapshot, open: the
    connection then no longer sees rows a replica sync pulled in, and a WAL checkpoint cannot
    pass it. Reading eagerly is what client-side cursors of other backends do anyway.
    """

    arraysize = 1

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._next = 0
        self._executed = False

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        return self._run(sql, [params])

    def executemany(self, sql: str, param_list: Any) -> Cursor:
        return self._run(sql, param_list)

    def _run(self, sql: str, param_list: Any) -> Cursor:
        self.description, self._rows, self.rowcount, self.lastrowid = self.connection.run(sql, param_list)
        self._next, self._executed = 0, True
        return self

    def _check(self) -> None:
        if not self._executed:
            raise ProgrammingError("execute() must be called before fetching rows")

    def fetchone(self) -> tuple[Any, ...] | None:
        self._check()
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        self._check()
        start = self._next
        self._next = min(len(self._rows), start + (size or self.arraysize))
        return self._rows[start : self._next]

    def fetchall(self) -> list[tuple[Any, ...]]:
        self._check()
        start, self._next = self._next, len(self._rows)
        return self._rows[start:]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchone, None)

    def close(self) -> None:
        self._rows = []

    def setinputsizes(self, sizes: Any) -> None:
        pass

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        pass


REMOTE_SCHEMES = ("libsql://", "http://", "https://", "ws://", "wss://")


def http_url(url: str) -> str:
    """The driver only recognises libsql:// and http(s)://; Hrana over WebSocket maps to the same host."""
    if url.startswith("ws://"):
        return "http://" + url.removeprefix("ws://")
    if url.startswith("wss://"):
        return "https://" + url.removeprefix("wss://")
    return url


def is_remote(database: str) -> bool:
    return database.startswith(REMOTE_SCHEMES)


def connect(
    database: str,
    *,
    auth_token: str = "",
    sync_url: str | None = None,
    sync_interval: float | None = None,
    timeout: float = 5.0,
    encryption_key: str | None = None,
) -> Any:
    """Open a local file or an embedded replica (file + sync_url) with the libsql driver.

    A remote sqld/Turso URL is `config.libsql.hrana.connect`'s (Hrana over HTTP on httpx, which waits
    on the network without the GIL); `config.libsql.base` picks between the two.
    """
    if is_remote(database):
        raise InterfaceError("a remote database URL is opened by config.libsql.hrana.connect")
    local = not is_remote(database) and not sync_url
    driver_timeout = 0.0 if local else timeout
    kwargs: dict[str, Any] = {
        "isolation_level": None,
        "timeout": driver_timeout,
        "auth_token": auth_token or "",
    }
    if sync_url:
        kwargs["sync_url"] = http_url(sync_url)
        # The driver treats 0 as a busy loop; Django settings use 0 for "only on demand".
        kwargs["sync_interval"] = sync_interval or None
    if encryption_key:
        kwargs["encryption_key"] = encryption_key
    with translated_errors():
        raw = libsql.connect(http_url(database), **kwargs)
    return Connection(raw, replica=bool(sync_url), busy_wait=timeout if local else 0.0)
