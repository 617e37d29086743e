"""A client for sqld and Turso speaking Hrana over HTTP (the `/v3/pipeline` JSON protocol) on httpx.

Why not the official `libsql` driver for remote databases: it holds the GIL through every
statement, COMMIT and network wait (a pure-Python counting thread keeps about half its solo rate
beside it; `make bench` prints the figure). Here the waiting happens in httpx's socket reads, which
release the GIL, so a thread talking to sqld no longer stalls the event loop that serves WebSockets.

Protocol: https://github.com/tursodatabase/libsql/blob/main/docs/HTTP_V2_SPEC.md (v3 adds
`get_autocommit`). A stream is a server-side SQLite connection, chained by a baton. Outside a
transaction every request closes its stream, so an idle Django connection holds nothing on the
server (50 readers with long-lived connections no longer exhaust sqld's connection slots, which
answered 429 "timed out while opening database connection"). A transaction keeps its stream until
COMMIT/ROLLBACK. One httpx client per process and URL keeps TCP/TLS connections alive across Django
connections, so DATABASE_CONN_MAX_AGE=0 costs no handshake per request.

Values: integers travel as decimal strings (64-bit exact), Decimals as text (never as floats, so
NUMERIC-free text columns keep every digit), floats as JSON numbers, blobs as base64.

Errors are the PEP 249 classes of `config.libsql.driver`. `libsql://` means TLS (Turso); a plain
HTTP sqld must be named `http://`: the mismatch is reported as such at connect time.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from config.libsql import driver

# sqld answers these when a write lock or a connection slot is not free in time; each means the
# statement (or the transaction it ended) did not commit, see `retryable`.
RETRYABLE_CODES = frozenset({"SQLITE_BUSY", "TRANSACTION_TIMEOUT", "STREAM_EXPIRED", "SQLITE_LOCKED"})
_RETRYABLE_MESSAGE = re.compile(
    r"database is locked|SQLITE_BUSY|Transaction timed out|stream has expired|"
    r"timed out while opening database connection|database table is locked",
    re.IGNORECASE,
)
_INTEGRITY = re.compile(r"SQLITE_CONSTRAINT|constraint failed|datatype mismatch", re.IGNORECASE)
_PROGRAMMING = re.compile(r"bind|parameter", re.IGNORECASE)
# Statements that open a transaction outside one, and those that end it (ROLLBACK TO does not).
_OPENS = re.compile(r"\s*(BEGIN|SAVEPOINT)\b", re.IGNORECASE)
_ENDS = re.compile(r"\s*(COMMIT|END|ROLLBACK(?!\s+(TRANSACTION\s+)?TO\b))\b", re.IGNORECASE)
_TOO_BIG = re.compile(r"SQLITE_TOOBIG|too big", re.IGNORECASE)


def retryable(message: str) -> bool:
    """True when the error means the server did not commit anything of the failed statement or transaction."""
    return _RETRYABLE_MESSAGE.search(message) is not None


class ServerError(driver.OperationalError):
    """An error the server answered, with its Hrana code (e.g. SQLITE_BUSY, TRANSACTION_TIMEOUT)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.code = code


def _error(message: str, code: str | None) -> driver.Error:
    text = f"{message} ({code})" if code else message
    probe = f"{code or ''} {message}"
    if _INTEGRITY.search(probe):
        return driver.IntegrityError(text)
    if _TOO_BIG.search(probe):
        return driver.DataError(text)
    if code == "SQL_PARSE_ERROR" or (code is None and _PROGRAMMING.search(message)):
        return driver.ProgrammingError(text)
    return ServerError(message, code)


def _encode(value: Any) -> dict[str, Any]:
    value = driver.adapt(value)
    if value is None:
        return {"type": "null"}
    if isinstance(value, driver._Wide):  # an int the local driver would mangle; here ints are exact
        return {"type": "integer", "value": str(value)}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise driver.ProgrammingError(f"Hrana cannot carry the float {value!r}")
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    if isinstance(value, bytes):
        return {"type": "blob", "base64": base64.b64encode(value).decode("ascii")}
    raise driver.ProgrammingError(f"Error binding parameter: type {type(value).__name__!r} is not supported")


def _decode(cell: dict[str, Any]) -> Any:
    kind = cell["type"]
    if kind == "null":
        return None
    if kind == "integer":
        return int(cell["value"])
    if kind == "float":
        return float(cell["value"])
    if kind == "text":
        return cell["value"]
    if kind == "blob":
        data = cell["base64"]
        return base64.b64decode(data + "=" * (-len(data) % 4))  # sqld omits the padding
    raise driver.InterfaceError(f"unknown Hrana value type {kind!r}")


def _statement(sql: str, params: Sequence[Any] | None) -> dict[str, Any]:
    if isinstance(params, dict):
        raise driver.ProgrammingError("only qmark (?) parameters are supported")
    return {"sql": sql, "args": [_encode(value) for value in params or ()], "want_rows": True}


def pipeline_url(database: str) -> str:
    """The v3 pipeline endpoint of a database URL; libsql:// and wss:// mean TLS, ws:// plain HTTP."""
    for prefix, scheme in (("libsql://", "https://"), ("wss://", "https://"), ("ws://", "http://")):
        if database.startswith(prefix):
            database = scheme + database.removeprefix(prefix)
            break
    return database.rstrip("/") + "/v3/pipeline"


_clients: dict[tuple[int, str], httpx.Client] = {}
_clients_lock = threading.Lock()
_checked: set[tuple[int, str, str]] = set()


def shared_client(origin: str) -> httpx.Client:
    """One keep-alive client per process and server: building a TLS context costs ~20 ms of CPU.

    httpx.Client is thread-safe; its pool serves every thread. Keyed by pid so a forked worker
    (Celery prefork) never shares a socket with its parent.
    """
    key = (os.getpid(), origin)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                limits = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=30)
                client = httpx.Client(limits=limits, timeout=httpx.Timeout(60.0, connect=10.0))
                _clients[key] = client
    return client


def _transport_error(url: str, exc: httpx.TransportError) -> driver.OperationalError:
    text = str(exc)
    if url.startswith("https://") and re.search(r"SSL|TLS|WRONG_VERSION|record layer", text, re.IGNORECASE):
        plain = "http://" + url.removeprefix("https://").removesuffix("/v3/pipeline")
        return driver.OperationalError(
            f"{url.removesuffix('/v3/pipeline')} does not speak TLS ({text}). libsql:// and https:// are "
            f"for Turso and TLS-terminated servers; a local sqld without TLS is {plain}"
        )
    return driver.OperationalError(f"cannot reach the libSQL server at {url}: {text}")


class Connection:
    """A DB-API connection over Hrana streams, with the surface `config.libsql.driver.Connection` has.

    Not thread-safe (like Django's connections, one per thread). `timeout` bounds how long a
    statement outside a transaction, or a BEGIN, is retried while the server answers busy.
    """

    replica = False

    def __init__(self, database: str, *, auth_token: str = "", timeout: float = 5.0) -> None:
        self.url = pipeline_url(database)
        self.client = shared_client(self.url.removesuffix("/v3/pipeline"))
        self.headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self.busy_wait = timeout
        self.autocommit = True  # Django toggles it; True means no implicit BEGIN before DML
        self._baton: str | None = None
        self._base_url: str | None = None
        self._in_transaction = False
        self._closed = False
        self._check_server(auth_token)

    def _check_server(self, auth_token: str) -> None:
        """Fails at connect, with a readable reason, on a TLS mismatch, a bad token or an old server."""
        key = (os.getpid(), self.url, auth_token)
        if key in _checked:
            return
        try:
            self._post({"baton": None, "requests": [{"type": "close"}]})
        except driver.OperationalError as exc:
            raise driver.OperationalError(f"libSQL server check failed: {exc}") from exc
        _checked.add(key)

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    def cursor(self) -> driver.Cursor:
        return driver.Cursor(self)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> driver.Cursor:
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, param_list: Any) -> driver.Cursor:
        return self.cursor().executemany(sql, param_list)

    # --- transport -------------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._closed:
            raise driver.InterfaceError("Cannot operate on a closed database.")
        url = self._base_url or self.url
        try:
            response = self.client.post(url, json=body, headers=self.headers)
        except httpx.TransportError as exc:
            raise _transport_error(url, exc) from exc
        if response.status_code != 200:
            try:
                payload = response.json()
                message, code = str(payload.get("message", payload)), payload.get("code")
            except ValueError:
                message, code = response.text[:500] or response.reason_phrase, None
            if response.status_code in (401, 403):
                raise driver.OperationalError(f"the libSQL server refused the auth token: {message}")
            raise ServerError(f"HTTP {response.status_code}: {message}", code)
        result: dict[str, Any] = response.json()
        return result

    def _request(self, requests: list[dict[str, Any]], *, keep_open: bool) -> list[dict[str, Any]]:
        """Sends requests on this connection's stream, in one round trip.

        `keep_open`: the stream must outlive the request (a transaction begins or goes on);
        otherwise the same request closes it, so nothing stays held on the server.
        """
        tail: list[dict[str, Any]] = [{"type": "get_autocommit"}]
        if not keep_open:
            tail.append({"type": "close"})
        try:
            answer = self._post({"baton": self._baton, "requests": [*requests, *tail]})
        except ServerError:
            # The stream is gone (expired, or its transaction timed out): nothing of it committed.
            self._forget_stream()
            raise
        results: list[dict[str, Any]] = answer["results"][: len(requests)]
        state = answer["results"][len(requests)]
        autocommit = state["type"] != "ok" or bool(state["response"]["is_autocommit"])
        if not keep_open:
            self._forget_stream()
            return results
        self._baton, self._base_url = answer.get("baton"), answer.get("base_url")
        self._in_transaction = not autocommit
        if autocommit:
            self._close_stream()  # e.g. a BEGIN that failed: no transaction to keep the stream for
        return results

    def _close_stream(self) -> None:
        baton, self._baton = self._baton, None
        try:
            self._post({"baton": baton, "requests": [{"type": "close"}]})
        except driver.Error:
            pass  # the server drops idle streams on its own after a few seconds
        finally:
            self._forget_stream()

    def _forget_stream(self) -> None:
        self._baton, self._base_url, self._in_transaction = None, None, False

    def _retrying(self, action: Callable[[], Any], *, safe: bool) -> Any:
        """Runs `action`, retrying busy/timeout answers for up to `busy_wait` s when `safe`.

        `safe` means nothing could have committed: a statement in autocommit mode (its own implicit
        transaction) or a BEGIN. Waiting is time.sleep and socket reads, both outside the GIL.
        """
        deadline = time.monotonic() + self.busy_wait
        pause = 0.005
        while True:
            try:
                return action()
            except ServerError as exc:
                if not (safe and retryable(str(exc))) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    # --- DB-API ----------------------------------------------------------------------------

    def run(self, sql: str, param_list: Any) -> tuple[Any, list[tuple[Any, ...]], int, int | None]:
        """Executes `sql` once per parameter set: (description, rows of the last, rowcount, lastrowid)."""
        statements = [_statement(sql, params) for params in param_list]
        if not statements:
            return None, [], (0 if driver.is_dml(sql) else -1), None
        if not self.autocommit and driver.is_dml(sql) and not self._in_transaction:
            self._retrying(lambda: self._execute_one({"sql": "BEGIN IMMEDIATE"}), safe=True)
        safe = not self._in_transaction
        if len(statements) == 1:
            result = self._retrying(lambda: self._execute_one(statements[0]), safe=safe)
            affected, lastrowid = int(result["affected_row_count"]), result.get("last_insert_rowid")
        else:
            # A batch whose steps each run only if the previous one succeeded: like sqlite3's
            # executemany, it stops at the first failing row; in autocommit each row commits alone.
            results = self._retrying(lambda: self._execute_batch(statements), safe=False)
            result = results[-1]
            affected = sum(int(step["affected_row_count"]) for step in results)
            lastrowid = result.get("last_insert_rowid")
        cols = result["cols"]
        description = tuple((col["name"], None, None, None, None, None, None) for col in cols) or None
        rows = [tuple(_decode(cell) for cell in row) for row in result["rows"]]
        rowcount = affected if driver.is_dml(sql) else -1
        return description, rows, rowcount, int(lastrowid) if lastrowid is not None else None

    def _keeps_stream(self, sql: str) -> bool:
        if self._in_transaction:
            return _ENDS.match(sql) is None
        return _OPENS.match(sql) is not None

    def _execute_one(self, stmt: dict[str, Any]) -> dict[str, Any]:
        keep_open = self._keeps_stream(stmt["sql"])
        (outcome,) = self._request([{"type": "execute", "stmt": stmt}], keep_open=keep_open)
        if outcome["type"] != "ok":
            error = outcome["error"]
            raise _error(error.get("message", ""), error.get("code"))
        result: dict[str, Any] = outcome["response"]["result"]
        return result

    def _execute_batch(self, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = [{"stmt": statements[0]}]
        steps += [
            {"stmt": stmt, "condition": {"type": "ok", "step": i}} for i, stmt in enumerate(statements[1:])
        ]
        batch_request = {"type": "batch", "batch": {"steps": steps}}
        (outcome,) = self._request([batch_request], keep_open=self._in_transaction)
        if outcome["type"] != "ok":
            error = outcome["error"]
            raise _error(error.get("message", ""), error.get("code"))
        batch = outcome["response"]["result"]
        for error in batch["step_errors"]:
            if error is not None:
                raise _error(error.get("message", ""), error.get("code"))
        results: list[dict[str, Any]] = batch["step_results"]
        return results

    def commit(self) -> None:
        if self._in_transaction:
            # A COMMIT answered "Transaction timed out" rolled back: the caller sees an error and
            # nothing is half-written. A transport error here is ambiguous and surfaces as such.
            self._execute_one({"sql": "COMMIT"})

    def rollback(self) -> None:
        if self._in_transaction:
            try:
                self._execute_one({"sql": "ROLLBACK"})
            except ServerError as exc:
                if not retryable(str(exc)):
                    raise
                # The server already ended the transaction (timeout, expired stream): rolled back.
                self._forget_stream()

    def sync(self) -> None:
        raise driver.NotSupportedError("sync() needs an embedded replica (OPTIONS['sync_url'])")

    def close(self) -> None:
        if self._closed:
            return
        if self._baton is not None:
            self._close_stream()  # an open transaction is rolled back by closing its stream
        self._forget_stream()
        self._closed = True


def connect(database: str, *, auth_token: str = "", timeout: float = 5.0) -> Connection:
    return Connection(database, auth_token=auth_token, timeout=timeout)
