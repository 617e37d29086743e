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
import http.client
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

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
_BEGIN = re.compile(r"\s*BEGIN\b", re.IGNORECASE)
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


def _first_error(results: list[dict[str, Any]]) -> str:
    for outcome in results:
        if outcome["type"] != "ok":
            error = outcome["error"]
            return f"{error.get('message', '')} ({error.get('code')})"
        for step_error in outcome["response"].get("result", {}).get("step_errors") or ():
            if step_error is not None:
                return f"{step_error.get('message', '')} ({step_error.get('code')})"
    return "the transaction ended on the server"


def pipeline_url(database: str) -> str:
    """The v3 pipeline endpoint of a database URL; libsql:// and wss:// mean TLS, ws:// plain HTTP."""
    for prefix, scheme in (("libsql://", "https://"), ("wss://", "https://"), ("ws://", "http://")):
        if database.startswith(prefix):
            database = scheme + database.removeprefix(prefix)
            break
    return database.rstrip("/") + "/v3/pipeline"


_checked: set[tuple[int, str, str]] = set()
_local = threading.local()
_tls: dict[int, ssl.SSLContext] = {}
_tls_lock = threading.Lock()
IDLE_REUSE = 10.0  # seconds an idle keep-alive connection is trusted; older ones are reopened
SOCKET_TIMEOUT = 60.0  # a BEGIN IMMEDIATE may wait ~5 s on the server for the write lock


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one costs ~20 ms of CPU."""
    pid = os.getpid()
    context = _tls.get(pid)
    if context is None:
        with _tls_lock:
            context = _tls.setdefault(pid, ssl.create_default_context())
    return context


class Channel:
    """One keep-alive HTTP/1.1 connection to one server, owned by one thread (see `channel_for`).

    The standard library's http.client, not httpx: both wait on the socket without the GIL, but
    httpx spends about 4x the CPU per request (measured here: ~2 ms against ~0.5 ms on a loaded
    2-core box), and that CPU time is GIL time.
    """

    def __init__(self, origin: str) -> None:
        parts = urllib.parse.urlsplit(origin)
        self.tls = parts.scheme == "https"
        self.host, self.port = parts.hostname or "", parts.port
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def _open(self) -> http.client.HTTPConnection:
        if self.tls:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=SOCKET_TIMEOUT, context=tls_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=SOCKET_TIMEOUT)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """(status, reason, body). OSError / http.client.HTTPException when the server is unreachable."""
        if self.conn is not None and time.monotonic() - self.last_used > IDLE_REUSE:
            self.close()
        reused = self.conn is not None
        while True:
            if self.conn is None:
                self.conn = self._open()
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                # A kept-alive connection the server closed while idle: the request never reached
                # it, so it is sent once more on a fresh connection (what urllib3 does too).
                if not reused:
                    raise
                reused = False
                continue
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            self.last_used = time.monotonic()
            return response.status, response.reason, data


def channel_for(origin: str) -> Channel:
    """This thread's connection to `origin`, kept across Django connections (CONN_MAX_AGE=0 is cheap).

    Keyed by pid too, so a forked worker (Celery prefork) never shares a socket with its parent.
    """
    channels: dict[tuple[int, str], Channel] | None = getattr(_local, "channels", None)
    if channels is None:
        channels = _local.channels = {}
    key = (os.getpid(), origin)
    channel = channels.get(key)
    if channel is None:
        channel = channels[key] = Channel(origin)
    return channel


def _transport_error(url: str, exc: BaseException) -> driver.OperationalError:
    text = f"{type(exc).__name__}: {exc}"
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
        self.headers = {"Content-Type": "application/json"}
        if auth_token:
            self.headers["Authorization"] = f"Bearer {auth_token}"
        self.busy_wait = timeout
        self.autocommit = True  # Django toggles it; True means no implicit BEGIN before DML
        self._baton: str | None = None
        self._base_url: str | None = None
        self._in_transaction = False
        self._pending_begin: str | None = None
        self._aborted: str | None = None
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
        # A stream may be pinned to another URL by the server (sticky sessions): base_url.
        url = pipeline_url(self._base_url) if self._base_url else self.url
        parts = urllib.parse.urlsplit(url)
        channel = channel_for(f"{parts.scheme}://{parts.netloc}")
        try:
            status, reason, data = channel.post(parts.path, json.dumps(body).encode(), self.headers)
        except (OSError, http.client.HTTPException) as exc:
            raise _transport_error(url, exc) from exc
        if status != 200:
            try:
                payload = json.loads(data)
                message, code = str(payload.get("message", payload)), payload.get("code")
            except (ValueError, AttributeError):
                message, code = data[:500].decode(errors="replace") or reason, None
            if status in (401, 403):
                raise driver.OperationalError(f"the libSQL server refused the auth token: {message}")
            raise ServerError(f"HTTP {status}: {message}", code)
        result: dict[str, Any] = json.loads(data)
        return result

    def _request(self, requests: list[dict[str, Any]], *, keep_open: bool) -> list[dict[str, Any]]:
        """Sends requests on this connection's stream, in one round trip.

        `keep_open`: the stream must outlive the request (a transaction begins or goes on);
        otherwise the same request closes it, so nothing stays held on the server.
        """
        # A transaction the server holds (not one whose BEGIN is still held back here).
        open_on_server = self._in_transaction and self._pending_begin is None
        tail: list[dict[str, Any]] = [{"type": "get_autocommit"}]
        if not keep_open:
            tail.append({"type": "close"})
        try:
            answer = self._post({"baton": self._baton, "requests": [*requests, *tail]})
        except ServerError as exc:
            # The stream is gone (expired, or its transaction timed out): nothing of it committed.
            self._forget_stream()
            if open_on_server and keep_open:
                self._abort(str(exc))
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
            self._close_stream()  # no transaction (left) to keep the stream for
            if open_on_server:
                self._abort(_first_error(results))
        return results

    def _abort(self, reason: str) -> None:
        """The server rolled back a transaction Django is still inside: refuse everything but ROLLBACK.

        Otherwise the block's remaining statements would run, and commit, one by one in autocommit:
        half a transaction.
        """
        self._in_transaction, self._aborted = True, reason

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
        self._pending_begin = self._aborted = None

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
        if self._aborted is not None:
            if _ENDS.match(sql) and sql.lstrip()[:1].upper() == "R":
                self._forget_stream()
                return None, [], -1, None
            raise ServerError(f"the server already rolled this transaction back: {self._aborted}")
        statements = [_statement(sql, params) for params in param_list]
        if not statements:
            return None, [], (0 if driver.is_dml(sql) else -1), None
        if not self.autocommit and driver.is_dml(sql) and not self._in_transaction:
            self._begin("BEGIN IMMEDIATE")
        if (
            len(statements) == 1
            and not self._in_transaction
            and _BEGIN.match(sql)
            and not statements[0]["args"]
        ):
            self._begin(sql)
            return None, [], -1, None
        if len(statements) == 1 and self._pending_begin is not None and _ENDS.match(sql):
            # COMMIT or ROLLBACK of a transaction that never ran a statement: nothing to send.
            self._pending_begin, self._in_transaction = None, False
            return None, [], -1, None
        # Safe to repeat when nothing can have committed and no transaction is under way on the server.
        safe = not self._in_transaction or self._pending_begin is not None
        results = self._retrying(lambda: self._send(statements), safe=safe and len(statements) == 1)
        result = results[-1]
        cols = result["cols"]
        description = tuple((col["name"], None, None, None, None, None, None) for col in cols) or None
        rows = [tuple(_decode(cell) for cell in row) for row in result["rows"]]
        affected = sum(int(step["affected_row_count"]) for step in results)
        rowcount = affected if driver.is_dml(sql) else -1
        lastrowid = result.get("last_insert_rowid")
        return description, rows, rowcount, int(lastrowid) if lastrowid is not None else None

    def _begin(self, sql: str) -> None:
        """A BEGIN is held back and sent with the transaction's first statement: one round trip less."""
        self._pending_begin, self._in_transaction = sql, True

    def _keeps_stream(self, sql: str) -> bool:
        if self._in_transaction:
            return _ENDS.match(sql) is None
        return _OPENS.match(sql) is not None

    def _send(self, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Runs statements in one round trip, after the held-back BEGIN if any; their results."""
        begin = self._pending_begin
        stmts = ([{"sql": begin}] if begin else []) + statements
        if len(stmts) == 1:
            keep_open = self._keeps_stream(stmts[0]["sql"])
            (outcome,) = self._request([{"type": "execute", "stmt": stmts[0]}], keep_open=keep_open)
            if outcome["type"] != "ok":
                error = outcome["error"]
                raise _error(error.get("message", ""), error.get("code"))
            return [outcome["response"]["result"]]
        # Each step runs only if the one before succeeded: a failed BEGIN runs nothing, and like
        # sqlite3's executemany a batch stops at its first failing row.
        steps: list[dict[str, Any]] = [{"stmt": stmts[0]}]
        steps += [{"stmt": stmt, "condition": {"type": "ok", "step": i}} for i, stmt in enumerate(stmts[1:])]
        confirmed = False
        try:
            (outcome,) = self._request(
                [{"type": "batch", "batch": {"steps": steps}}], keep_open=self._in_transaction
            )
            if outcome["type"] != "ok":
                error = outcome["error"]
                raise _error(error.get("message", ""), error.get("code"))
            batch = outcome["response"]["result"]
            confirmed = begin is not None and batch["step_errors"][0] is None
        finally:
            if begin is not None and not confirmed:
                # Nothing ran; Django is still inside its atomic block: the BEGIN stays pending.
                self._pending_begin, self._in_transaction = begin, True
        if confirmed:
            self._pending_begin = None
        for error in batch["step_errors"]:
            if error is not None:
                raise _error(error.get("message", ""), error.get("code"))
        results: list[dict[str, Any]] = batch["step_results"]
        return results[1:] if begin is not None else results

    def commit(self) -> None:
        if self._aborted is not None:
            reason = self._aborted
            self._forget_stream()
            raise ServerError(f"cannot commit, the server already rolled this transaction back: {reason}")
        if self._pending_begin is not None:
            self._pending_begin, self._in_transaction = None, False
        elif self._in_transaction:
            # A COMMIT answered "Transaction timed out" rolled back: the caller sees an error and
            # nothing is half-written. A transport error here is ambiguous and surfaces as such.
            self._send([{"sql": "COMMIT", "args": [], "want_rows": False}])

    def rollback(self) -> None:
        if self._aborted is not None or self._pending_begin is not None:
            self._forget_stream()  # nothing to roll back on the server
        elif self._in_transaction:
            try:
                self._send([{"sql": "ROLLBACK", "args": [], "want_rows": False}])
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
