# ruff: noqa: S608 (identifiers come from sqlite_master and are quoted by q(); values are bound)
"""Shadow mode: every write committed on the primary is applied to a second database, in commit order.

How (see README "Moving to Turso without downtime"):
- capture: AFTER INSERT/UPDATE/DELETE triggers on every table of the primary add (table, rowid) to
  `shadow_log` in the writer's own transaction. Commit order and durability come with SQLite's
  single writer; the cost to a write is one small row insert per changed row, and nothing in the
  write path ever talks to the shadow, so a slow or dead shadow can't delay or fail it;
- snapshot: the schema and every row are copied to the target after the triggers are in place, so
  every change during the copy is also in the log;
- shipping (`Shipper`, `ship_once`): the next log entries are read, the current rows for their
  keys are read in one read transaction on the primary (WAL: it never blocks a writer), and
  upserted (INSERT OR REPLACE by rowid) or deleted on the shadow, together with the applied log
  position (`shadow_position`, moved only from the position the shipper expects), in one
  transaction on the shadow, sent as one request. Re-applying a batch is harmless (current state,
  by key), so a crash or an outage anywhere is recovered by running again from the position the
  shadow itself holds. The running shipper paces itself (a batch every PACE seconds unless
  catching up) and remembers what it can, so it takes little CPU from the writers it follows;
- fence: the database that is not the primary has BEFORE triggers that refuse every write unless
  `shadow_fence.open` is 1, which only the shipper sets inside its own transaction. A process still
  pointing at the old primary after a cut-over gets a clear error instead of a lost write;
- verification: row counts and SHA-256 digests of rows per table and rowid range (BUCKET rows),
  compared between both; a range that differs while no unshipped log entry touches it diverges;
- cut-over: BEGIN IMMEDIATE on the primary (writers wait, for at most `max_pause` seconds, inside
  their busy timeout), drain, verify exactly, swap the capture triggers and the fence, write the
  state file. Roll-back is the same move in the other direction.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config import metrics
from config.shadow import state as state_file
from config.shadow.db import Db, ShadowDbError, StatementFailed, open_db

logger = logging.getLogger(__name__)

LOG = "shadow_log"
POSITION = "shadow_position"
FENCE = "shadow_fence"
OWN_TABLES = (LOG, POSITION, FENCE)
# Log entries per shipped transaction. A batch that takes every entry of its snapshot leaves the
# shadow equal to that snapshot of the primary (foreign keys hold at its commit); only a shadow
# further behind than this ships in slices.
BATCH = 20000
BUCKET = 1000  # rowids per verified key range
PRUNE_EVERY = 10.0  # seconds between deletions of applied log entries on the primary
PRUNE_CHUNK = 500  # log entries deleted per write transaction on the primary
PACE = 0.1  # seconds between shipped batches while not catching up
IN_SYNC_COMMITS = 200  # lag (log entries) under which the shadow counts as in sync
IN_SYNC_SECONDS = 5.0
LAG_EVERY = 1.0  # seconds between the shipper's lag measurements (metrics)
NOW = "((julianday('now') - 2440587.5) * 86400.0)"  # unix seconds, fractional, on any SQLite
FENCE_MESSAGE = "brute shadow: this database is not the primary; restart to use the one in the shadow state"


class ShadowError(Exception):
    """An operator-level failure: one readable line, e.g. for `manage.py shadow` to print."""


class PositionMoved(ShadowDbError):
    """Another shipper applied the same entries first; nothing of this batch was applied."""


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- schema -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    key: str  # the INTEGER PRIMARY KEY column (a rowid alias), or "rowid"
    columns: tuple[str, ...]  # what is copied, the key first when it is "rowid"

    @property
    def select(self) -> str:
        return ", ".join("rowid" if c == "rowid" else q(c) for c in self.columns)

    @property
    def key_index(self) -> int:
        return self.columns.index(self.key)


def app_tables(db: Db) -> list[Table]:
    """Every table the shadow copies: all but SQLite's own and the shadow's bookkeeping."""
    names = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    tables = []
    for (name,) in names:
        if name in OWN_TABLES:
            continue
        info = db.execute(f"PRAGMA table_info({q(name)})")  # cid, name, type, notnull, default, pk
        pks = [row for row in info if row[5]]
        columns = tuple(row[1] for row in info)
        if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER":
            tables.append(Table(name, pks[0][1], columns))
        else:
            tables.append(Table(name, "rowid", ("rowid", *columns)))
    return tables


def schema(db: Db) -> dict[tuple[str, str], str]:
    """(type, name) -> CREATE statement of every table and index outside the shadow's own."""
    rows = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%'"
    )
    return {
        (kind, name): sql
        for kind, name, sql in rows
        if name not in OWN_TABLES and not name.startswith("shadow_")
    }


def _trigger_names(db: Db, prefix: str) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?", [prefix + "%"])
    return [name for (name,) in rows]


def drop_triggers(db: Db, prefix: str) -> None:
    for name in _trigger_names(db, prefix):
        db.execute(f"DROP TRIGGER IF EXISTS {q(name)}")


def install_capture(db: Db) -> None:
    """The log table and the capture triggers on every app table (idempotent; after `migrate` too)."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {LOG} (id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, "
        f"rid INTEGER NOT NULL, at REAL NOT NULL DEFAULT {NOW})"
    )
    for table in app_tables(db):
        name, lit = q(table.name), "'" + table.name.replace("'", "''") + "'"
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {q('shadow_log_i_' + table.name)} AFTER INSERT ON {name} "
            f"BEGIN INSERT INTO {LOG} (tbl, rid) VALUES ({lit}, NEW.rowid); END"
        )
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {q('shadow_log_u_' + table.name)} AFTER UPDATE ON {name} "
            f"BEGIN INSERT INTO {LOG} (tbl, rid) VALUES ({lit}, NEW.rowid); "
            f"INSERT INTO {LOG} (tbl, rid) SELECT {lit}, OLD.rowid WHERE OLD.rowid <> NEW.rowid; END"
        )
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {q('shadow_log_d_' + table.name)} AFTER DELETE ON {name} "
            f"BEGIN INSERT INTO {LOG} (tbl, rid) VALUES ({lit}, OLD.rowid); END"
        )


def install_fence(db: Db, *, applied: int) -> None:
    """Makes `db` a shadow: writes refused unless the shipper opens the fence; position `applied`."""
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {FENCE} (id INTEGER PRIMARY KEY CHECK (id = 1), open INTEGER NOT NULL)"
    )
    db.execute(f"INSERT OR REPLACE INTO {FENCE} (id, open) VALUES (1, 0)")
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {POSITION} (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "applied INTEGER NOT NULL, at REAL)"
    )
    db.execute(f"INSERT OR REPLACE INTO {POSITION} (id, applied, at) VALUES (1, ?, {NOW})", [applied])
    guard = f"WHEN (SELECT open FROM {FENCE} WHERE id = 1) IS NOT 1"
    for table in app_tables(db):
        for op, event in (("i", "INSERT"), ("u", "UPDATE"), ("d", "DELETE")):
            db.execute(
                f"CREATE TRIGGER IF NOT EXISTS {q(f'shadow_fence_{op}_' + table.name)} BEFORE {event} "
                f"ON {q(table.name)} {guard} BEGIN SELECT RAISE(ABORT, '{FENCE_MESSAGE}'); END"
            )


def sync_schema(primary: Db, shadow: Db, *, first: bool = False) -> list[str]:
    """Brings the shadow's tables and indexes to the primary's (new, changed, dropped) and copies
    the rows of every table created or changed. Returns the names of the tables copied.

    Runs at `shadow start` (`first`: every table, and the log position of the same snapshot) and
    after `migrate` (config.shadow.apps hooks post_migrate): Django's SQLite schema editor rebuilds
    a table (create, copy, drop, rename), which drops its triggers and logs none of the copied rows,
    so a changed table is copied whole. The copy reads one snapshot of the primary and writes one
    transaction on the shadow, so foreign keys (checked at its commit) hold as they hold on the primary."""
    with primary.transaction():
        install_capture(primary)
    primary.begin(immediate=False)
    try:
        position = int(primary.execute(f"SELECT coalesce(max(id), 0) FROM {LOG}")[0][0]) if first else None
        want, have = schema(primary), schema(shadow)
        changed = sorted(
            name for (kind, name), sql in want.items() if kind == "table" and have.get((kind, name)) != sql
        )
        with shadow.transaction():
            shadow.execute("PRAGMA defer_foreign_keys = ON")
            drop_triggers(shadow, "shadow_fence_")
            for (kind, name), sql in have.items():
                if want.get((kind, name)) != sql:
                    shadow.execute(f"DROP {'TABLE' if kind == 'table' else 'INDEX'} IF EXISTS {q(name)}")
            for name in changed:
                shadow.execute(want[("table", name)])
            for (kind, _), sql in want.items():
                if kind == "index":  # every index, idempotently: a recreated table lost its own
                    shadow.execute(
                        re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX IF NOT EXISTS ", sql, count=1)
                    )
            install_fence(shadow, applied=position if position is not None else _position(shadow))
            shadow.execute(f"UPDATE {FENCE} SET open = 1 WHERE id = 1")
            by_name = {table.name: table for table in app_tables(primary)}
            for name in changed:
                copy_table(primary, shadow, by_name[name])
            shadow.execute(f"UPDATE {FENCE} SET open = 0 WHERE id = 1")
    finally:
        primary.commit()
    return changed


def _position(shadow: Db) -> int:
    try:
        rows = shadow.execute(f"SELECT applied FROM {POSITION} WHERE id = 1")
    except ShadowDbError:
        return 0
    return int(rows[0][0]) if rows else 0


def copy_table(primary: Db, shadow: Db, table: Table, *, page: int = 2000) -> int:
    """Copies every row of `table` in key order, a page per request; the caller holds both
    transactions (a read snapshot on the primary, the fence open on the shadow). Returns the count."""
    last: Any = None
    copied = 0
    while True:
        where = "" if last is None else f"WHERE {_key(table)} > ?"
        rows = primary.execute(
            f"SELECT {table.select} FROM {q(table.name)} {where} ORDER BY {_key(table)} LIMIT {page}",
            [] if last is None else [last],
        )
        if not rows:
            return copied
        write_rows(shadow, table, rows)
        copied += len(rows)
        last = rows[-1][table.key_index]


def _key(table: Table) -> str:
    return "rowid" if table.key == "rowid" else q(table.key)


def _upsert_sql(table: Table, floats: tuple[bool, ...] = ()) -> str:
    """An upsert by key. Not INSERT OR REPLACE where avoidable: REPLACE deletes the old row first,
    which would fire ON DELETE actions of foreign keys pointing at it. `floats` marks the values
    bound as text and cast back (see `write_rows`)."""
    columns = ", ".join("rowid" if c == "rowid" else q(c) for c in table.columns)
    marks = ", ".join(
        "CAST(? AS REAL)" if i < len(floats) and floats[i] else "?" for i in range(len(table.columns))
    )
    if table.key == "rowid":
        return f"INSERT OR REPLACE INTO {q(table.name)} ({columns}) VALUES ({marks})"
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in table.columns if c != table.key)
    updates = updates or f"{q(table.key)} = excluded.{q(table.key)}"
    return (
        f"INSERT INTO {q(table.name)} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({q(table.key)}) DO UPDATE SET {updates}"
    )


def row_statements(
    table: Table, rows: list[tuple[Any, ...]], *, remote: bool
) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The upserts that write `rows` on the shadow, every value bit for bit: (sql, parameter sets).

    Floats to a remote shadow travel as their repr() and are cast back by SQLite: sqld parses a
    Hrana JSON float inexactly (about 1 in 10 random doubles came back 1 ulp off, measured on sqld
    0.24.32), while SQLite's own text-to-REAL conversion of a 17-digit repr is exact."""
    if not rows:
        return []
    if not remote:
        return [(_upsert_sql(table), rows)]
    groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        mask = tuple(isinstance(value, float) for value in row)
        bound = tuple(repr(v) if isinstance(v, float) else v for v in row)
        groups.setdefault(mask, []).append(bound)
    return [(_upsert_sql(table, mask), bound_rows) for mask, bound_rows in groups.items()]


def write_rows(shadow: Db, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Upserts `rows` on the shadow inside the caller's transaction (see `row_statements`)."""
    for sql, bound in row_statements(table, rows, remote=shadow.remote):
        shadow.executemany(sql, bound)


# --- shipping -----------------------------------------------------------------------------------


def ship_once(primary: Db, shadow: Db, *, batch: int = BATCH, locked: bool = False) -> int:
    """Applies the next `batch` log entries to the shadow; returns how many (0: caught up).

    `locked`: the caller holds a write transaction on `primary` (the cut-over), so the reads run in
    it rather than in a read transaction of their own. Errors: ShadowDbError, nothing applied."""
    return Shipper(primary, shadow).ship(batch=batch, locked=locked)


class Shipper:
    """Ships from `primary` to `shadow`, remembering between batches what saves work on both sides.

    Shipping shares the machine with the writers it follows (the commit latency issue 16 bounds), so
    each batch costs as little as it can:
    - the shadow's position is read once, then known: this shipper moved it, and the position
      update is conditional, so another shipper moving it (the cut-over's, racing) is still seen
      (PositionMoved) and the position read again;
    - the tables' shapes are read again only when the primary's `PRAGMA schema_version` changes;
    - on a local primary, `PRAGMA data_version` (unchanged unless another connection committed)
      answers "nothing new" without opening a read transaction;
    - the shadow's transaction goes as one request (`Db.apply`), not one per statement.
    """

    def __init__(self, primary: Db, shadow: Db) -> None:
        self.primary = primary
        self.shadow = shadow
        self.position: int | None = None  # the shadow's applied position, when known
        self._tables: dict[str, Table] = {}
        self._schema_version: int | None = None
        self._quiet_at: int | None = None  # the primary's data_version when the log was drained

    def known_position(self) -> int:
        if self.position is None:
            self.position = _position(self.shadow)
        return self.position

    def ship(self, *, batch: int = BATCH, locked: bool = False) -> int:
        """As `ship_once`. Errors: ShadowDbError (PositionMoved among them), nothing applied."""
        primary = self.primary
        version = None if locked else primary.data_version()
        if version is not None and version == self._quiet_at:
            return 0
        try:
            position = self.known_position()
            if not locked:
                primary.begin(immediate=False)  # one snapshot: the entries and the rows they name
            try:
                entries = primary.execute(
                    f"SELECT id, tbl, rid FROM {LOG} WHERE id > ? ORDER BY id LIMIT ?", [position, batch]
                )
                if not entries:
                    self._quiet_at = version
                    return 0
                keys: dict[str, set[int]] = {}
                for _, tbl, rid in entries:
                    keys.setdefault(tbl, set()).add(int(rid))
                tables = self._app_tables()
                current: dict[str, list[tuple[Any, ...]]] = {}
                for name, rids in keys.items():
                    if name in tables:  # else dropped since; sync_schema drops it on the shadow
                        current[name] = _rows_by_key(primary, tables[name], sorted(rids))
            finally:
                if not locked:
                    primary.commit()
            last = int(entries[-1][0])
            self._apply(
                position, last, {name: (tables[name], keys[name], rows) for name, rows in current.items()}
            )
        except BaseException:
            self.position = self._quiet_at = None  # read both again next time
            raise
        self.position = last
        return len(entries)

    def _app_tables(self) -> dict[str, Table]:
        version = int(self.primary.execute("PRAGMA schema_version")[0][0])
        if version != self._schema_version:
            self._tables = {table.name: table for table in app_tables(self.primary)}
            self._schema_version = version
        return self._tables

    def _apply(
        self, position: int, last: int, changes: dict[str, tuple[Table, set[int], list[tuple[Any, ...]]]]
    ) -> None:
        """The shadow's transaction: the fence opened, rows deleted and upserted, the position moved
        from `position` to `last` (or PositionMoved, nothing applied), the fence closed."""
        statements: list[tuple[str, list[tuple[Any, ...]]]] = [
            ("PRAGMA defer_foreign_keys = ON", [()]),
            (f"UPDATE {FENCE} SET open = 1 WHERE id = 1", [()]),
            # The position's NOT NULL fails this update (and with it the transaction) unless the
            # shadow is still at `position`: no second shipper applies the same entries twice.
            (
                f"UPDATE {POSITION} SET applied = CASE WHEN applied = ? THEN ? END, at = {NOW} WHERE id = 1",
                [(position, last)],
            ),
        ]
        moved = len(statements) - 1
        for name, (table, rids, rows) in changes.items():
            present = {row[table.key_index] for row in rows}
            gone = sorted(rid for rid in rids if rid not in present)
            for chunk in _chunks(gone, 400):
                marks = ", ".join("?" for _ in chunk)
                statements.append((f"DELETE FROM {q(name)} WHERE {_key(table)} IN ({marks})", [tuple(chunk)]))
            statements += row_statements(table, rows, remote=self.shadow.remote)
        statements.append((f"UPDATE {FENCE} SET open = 0 WHERE id = 1", [()]))
        try:
            counts = self.shadow.apply(statements)
        except StatementFailed as exc:
            if exc.index == moved:
                raise PositionMoved(
                    f"{self.shadow.url}: another shipper moved the position; this batch is not applied"
                ) from exc
            raise
        if counts[moved] != 1:
            raise PositionMoved(f"{self.shadow.url}: no position row; this batch is not counted as applied")


def _rows_by_key(db: Db, table: Table, rids: list[int]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for chunk in _chunks(rids, 400):
        marks = ", ".join("?" for _ in chunk)
        rows += db.execute(
            f"SELECT {table.select} FROM {q(table.name)} WHERE {_key(table)} IN ({marks})", chunk
        )
    return rows


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prune(primary: Db, shadow: Db, *, position: int | None = None) -> int:
    """Deletes the log entries the shadow has applied (up to `position`, else the shadow's own),
    PRUNE_CHUNK per write transaction so a writer never waits behind more than one; returns how many."""
    if position is None:
        position = _position(shadow)
    total = 0
    while True:
        with primary.transaction():
            rows = primary.execute(
                f"DELETE FROM {LOG} WHERE id <= ? AND id <= (SELECT min(id) FROM {LOG}) + ? RETURNING id",
                [position, PRUNE_CHUNK - 1],
            )
        total += len(rows)
        if len(rows) < PRUNE_CHUNK:
            return total


def lag(primary: Db, shadow: Db, *, position: int | None = None) -> tuple[int, float]:
    """(log entries not yet applied, seconds since the oldest of them was committed). `position`:
    the shadow's applied position when the caller knows it (the shipper), else read from it."""
    if position is None:
        position = _position(shadow)
    rows = primary.execute(f"SELECT count(*), min(at), {NOW} FROM {LOG} WHERE id > ?", [position])
    count, oldest, now = rows[0]
    return int(count), (float(now) - float(oldest)) if oldest is not None else 0.0


# --- verification -------------------------------------------------------------------------------


@dataclass
class Divergence:
    table: str
    low: int  # first rowid of the range
    high: int  # last rowid of the range
    primary_rows: int
    shadow_rows: int

    def line(self) -> str:
        return (
            f"{self.table} rowids {self.low}..{self.high}: {self.primary_rows} rows on the primary, "
            f"{self.shadow_rows} on the shadow (or the same count with different contents)"
        )


@dataclass
class Verification:
    at: str
    tables: int
    rows: int
    divergences: list[Divergence] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # ranges still being written to

    @property
    def ok(self) -> bool:
        return not self.divergences

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "ok": self.ok,
            "tables": self.tables,
            "rows": self.rows,
            "divergences": [d.line() for d in self.divergences],
            "unsettled": self.unsettled,
        }


def _digest_rows(rows: list[tuple[Any, ...]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(_canonical(v) for v in row)).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    # Both drivers return int/float/str/bytes/None; a float equal to an int is stored as REAL on both.
    return value


def bucket_digests(
    db: Db, table: Table, *, low: int | None = None, high: int | None = None
) -> dict[int, tuple[int, str]]:
    """bucket (rowid // BUCKET) -> (row count, digest of its rows in key order)."""
    where, params = [], []
    if low is not None:
        where.append(f"{_key(table)} >= ?")
        params.append(low)
    if high is not None:
        where.append(f"{_key(table)} <= ?")
        params.append(high)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    rows = db.execute(f"SELECT {table.select} FROM {q(table.name)} {clause} ORDER BY {_key(table)}", params)
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(int(row[table.key_index]) // BUCKET, []).append(row)
    return {bucket: (len(items), _digest_rows(items)) for bucket, items in grouped.items()}


def verify(
    primary: Db, shadow: Db, *, rechecks: int = 3, pause: float = 1.0, locked: bool = False
) -> Verification:
    """Compares row counts and digests per table and rowid range.

    A range that differs counts as divergent only when no log entry the shadow has not applied
    touches it (so lag is never reported as divergence); a range still being written is checked
    again up to `rechecks` times, `pause` seconds apart, and if still busy listed as unsettled.
    `locked`: the caller holds the primary's write lock (the cut-over): everything must match."""
    result = Verification(at=now_iso(), tables=0, rows=0)
    tables = app_tables(primary)
    shadow_names = {table.name for table in app_tables(shadow)}
    for table in tables:
        result.tables += 1
        if table.name not in shadow_names:
            count = int(primary.execute(f"SELECT count(*) FROM {q(table.name)}")[0][0])
            result.divergences.append(Divergence(table.name, 0, 0, count, 0))
            continue
        todo: list[tuple[int | None, int | None]] = [(None, None)]
        for attempt in range(rechecks + 1):
            busy: list[tuple[int | None, int | None]] = []
            for low, high in todo:
                position = _position(shadow)
                theirs = bucket_digests(shadow, table, low=low, high=high)
                if not locked:
                    primary.begin(immediate=False)
                try:
                    ours = bucket_digests(primary, table, low=low, high=high)
                    pending = {
                        int(rid) // BUCKET
                        for (rid,) in primary.execute(
                            f"SELECT rid FROM {LOG} WHERE id > ? AND tbl = ?", [position, table.name]
                        )
                    }
                finally:
                    if not locked:
                        primary.commit()
                if low is None and attempt == 0:
                    result.rows += sum(count for count, _ in ours.values())
                for bucket in sorted(set(ours) | set(theirs)):
                    if ours.get(bucket, (0, "")) == theirs.get(bucket, (0, "")):
                        continue
                    span = (bucket * BUCKET, bucket * BUCKET + BUCKET - 1)
                    if bucket in pending and attempt < rechecks:
                        busy.append(span)
                    elif bucket in pending:
                        result.unsettled.append(f"{table.name} rowids {span[0]}..{span[1]}")
                    else:
                        result.divergences.append(
                            Divergence(
                                table.name,
                                span[0],
                                span[1],
                                ours.get(bucket, (0, ""))[0],
                                theirs.get(bucket, (0, ""))[0],
                            )
                        )
            if not busy:
                break
            time.sleep(pause)
            todo = busy
    metrics.shadow_verified(len(result.divergences))
    return result


# --- the operator's moves -----------------------------------------------------------------------


@dataclass
class Shadow:
    """The shadow of one installation: its state file, and the token for the remote side."""

    state_path: Path
    token: str = ""
    timeout: float = 30.0

    def state(self) -> dict[str, Any] | None:
        return state_file.load(self.state_path)

    def _require(self) -> dict[str, Any]:
        current = self.state()
        if current is None:
            raise ShadowError("shadow mode is off; start it with `manage.py shadow start --to URL`")
        return current

    def open(self, url: str) -> Db:
        return open_db(url, token=self.token, timeout=self.timeout)

    def databases(self) -> tuple[Db, Db]:
        current = self._require()
        return self.open(current["primary"]), self.open(current["shadow"])

    def start(self, primary_url: str, target_url: str) -> dict[str, Any]:
        """Captures, snapshots and loads; afterwards `ship` keeps the target up to date."""
        if self.state() is not None:
            raise ShadowError(f"shadow mode is already on ({self.state_path}); see `manage.py shadow status`")
        if primary_url == target_url:
            raise ShadowError("the target is the current database")
        primary, target = self.open(primary_url), self.open(target_url)
        try:
            existing = [t.name for t in app_tables(target)]
            if existing:
                raise ShadowError(
                    f"the target already has tables ({', '.join(existing[:3])}...); give an empty database"
                )
            sync_schema(primary, target, first=True)  # every table and row, from one snapshot
            current = {
                "mode": state_file.SHADOWING,
                "primary": primary_url,
                "shadow": target_url,
                "original": primary_url,
                "started_at": now_iso(),
                "cutover_at": None,
                "last_verification": None,
            }
            state_file.save(self.state_path, current)
            return current
        finally:
            primary.close()
            target.close()

    def resync(self) -> list[str]:
        """After `migrate`: capture triggers reinstalled, schema and changed tables to the shadow."""
        primary, shadow = self.databases()
        try:
            return sync_schema(primary, shadow)
        finally:
            primary.close()
            shadow.close()

    def ship(self, *, until: Callable[[], bool], idle: float = PACE, retry: float = 1.0) -> int:
        """Ships until `until()` is true; an unreachable side is waited for, never given up on.

        `idle`: seconds between batches unless the last one was full (catching up goes on at once).
        The writes of that interval go as one batch, so the shipper (and the shadow's server) wake
        a few times a second rather than once per commit: lag grows by at most `idle`, and the CPU
        they take from the primary's writers shrinks (`bench shadow` prints both)."""
        shipped, since_prune, pruned_at = 0, 0, time.monotonic()
        measured_at = 0.0
        shipper: Shipper | None = None
        pair: tuple[str, str] | None = None
        while not until():
            try:
                current = self._require()
                if pair != (current["primary"], current["shadow"]):  # a cut-over or roll-back happened
                    _close(shipper)
                    shipper = None
                    pair = (current["primary"], current["shadow"])
                if shipper is None:
                    shipper = Shipper(*self.databases())
                count = shipper.ship()
                shipped += count
                since_prune += count
                if count:
                    metrics.shadow_applied(count)
                if time.monotonic() - measured_at >= LAG_EVERY:
                    metrics.shadow_lag(
                        *lag(shipper.primary, shipper.shadow, position=shipper.known_position())
                    )
                    measured_at = time.monotonic()
                # Pruning takes the primary's write lock: seldom, so writers rarely wait behind it.
                if since_prune and time.monotonic() - pruned_at >= PRUNE_EVERY:
                    prune(shipper.primary, shipper.shadow, position=shipper.known_position())
                    since_prune, pruned_at = 0, time.monotonic()
                if count < BATCH:
                    time.sleep(idle)
            except ShadowDbError as exc:
                logger.warning("shadow shipping paused: %s", exc)
                metrics.shadow_replay_error(
                    "position_moved" if isinstance(exc, PositionMoved) else "database"
                )
                _close(shipper)
                shipper = None
                time.sleep(retry)
        _close(shipper)
        return shipped

    def status(self, *, check: bool = False) -> dict[str, Any]:
        """state (off, catching_up, in_sync, cut_over), lag, and the last (or a fresh) verification.
        Also recorded in the metrics (brute_shadow_state, brute_shadow_lag_*)."""
        report = self._status(check=check)
        metrics.shadow_state(report["state"])
        if "lag_commits" in report:
            metrics.shadow_lag(report["lag_commits"], report["lag_seconds"])
        return report

    def _status(self, *, check: bool) -> dict[str, Any]:
        current = self.state()
        if current is None:
            return {"state": "off"}
        report: dict[str, Any] = {
            "primary": _safe(current["primary"]),
            "shadow": _safe(current["shadow"]),
            "started_at": current.get("started_at"),
            "cutover_at": current.get("cutover_at"),
        }
        try:
            primary, shadow = self.databases()
        except ShadowDbError as exc:  # the shadow (or the primary) is away: the writes wait in the log
            report["error"] = str(exc)
            report["state"] = "cut_over" if current["mode"] == state_file.CUT_OVER else "catching_up"
            report["last_verification"] = current.get("last_verification")
            return report
        try:
            try:
                commits, seconds = lag(primary, shadow)
                report["lag_commits"], report["lag_seconds"] = commits, round(seconds, 3)
                reachable = True
            except ShadowDbError as exc:
                report["error"] = str(exc)
                reachable = False
            if current["mode"] == state_file.CUT_OVER:
                report["state"] = "cut_over"
            elif reachable and commits <= IN_SYNC_COMMITS and seconds <= IN_SYNC_SECONDS:
                report["state"] = "in_sync"
            else:
                report["state"] = "catching_up"
            if check and reachable:
                verification = verify(primary, shadow).as_dict()
                current["last_verification"] = verification
                state_file.save(self.state_path, current)
        finally:
            primary.close()
            shadow.close()
        report["last_verification"] = current.get("last_verification")
        return report

    def cutover(self, *, max_pause: float = 10.0) -> dict[str, Any]:
        """Makes the shadow the primary; the old primary becomes the shadow (roll-back possible)."""
        current = self._require()
        if current["mode"] != state_file.SHADOWING:
            raise ShadowError("already cut over; `manage.py shadow rollback` goes back")
        return self._swap(current, mode=state_file.CUT_OVER, max_pause=max_pause)

    def rollback(self, *, max_pause: float = 4.0) -> dict[str, Any]:
        """Returns to the original database with every write made since the cut-over."""
        current = self._require()
        if current["mode"] != state_file.CUT_OVER:
            raise ShadowError("not cut over; nothing to roll back")
        return self._swap(current, mode=state_file.SHADOWING, max_pause=max_pause)

    def _swap(self, current: dict[str, Any], *, mode: str, max_pause: float) -> dict[str, Any]:
        old, new = self.databases()
        try:
            # Catch up first without pausing anybody, so the pause only covers the last few commits.
            deadline = time.monotonic() + 60
            while _ship_racing(old, new) > 100:
                if time.monotonic() > deadline:
                    raise ShadowError("the shadow does not catch up; cut over when `status` says in_sync")
            old.begin(immediate=True)  # writers wait from here (their busy timeout covers the pause)
            paused = time.monotonic()
            try:
                while _ship_racing(old, new, locked=True):
                    if time.monotonic() - paused > max_pause:
                        raise ShadowError(f"draining took over {max_pause}s; writes resumed, nothing changed")
                check = verify(old, new, locked=True)
                if not check.ok:
                    raise ShadowError(
                        "verification failed, nothing changed: "
                        + "; ".join(d.line() for d in check.divergences)
                    )
                drained = _position(new)
                sequences = old.execute("SELECT name, seq FROM sqlite_sequence WHERE name <> ?", [LOG])
                with new.transaction():
                    drop_triggers(new, "shadow_fence_")
                    drop_triggers(new, "shadow_log_")
                    for own in OWN_TABLES:
                        new.execute(f"DROP TABLE IF EXISTS {own}")
                    install_capture(new)
                    for name, seq in sequences:
                        new.execute(
                            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [seq, name]
                        )
                        new.execute(
                            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
                            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                            [name, seq, name],
                        )
                try:
                    drop_triggers(old, "shadow_log_")
                    old.execute(f"DELETE FROM {LOG}")
                    install_fence(old, applied=0)
                    if time.monotonic() - paused > max_pause:
                        raise ShadowError(f"the pause passed {max_pause}s; writes resumed, nothing changed")
                    swapped = {
                        **current,
                        "mode": mode,
                        "primary": current["shadow"],
                        "shadow": current["primary"],
                        "cutover_at": now_iso() if mode == state_file.CUT_OVER else None,
                        "last_verification": check.as_dict(),
                    }
                    state_file.save(self.state_path, swapped)
                    old.commit()
                except BaseException:
                    state_file.save(self.state_path, current)
                    with new.transaction():  # undo: the new side is a fenced shadow again
                        drop_triggers(new, "shadow_log_")
                        install_fence(new, applied=drained)
                    raise
            except BaseException:
                old.rollback()
                raise
            swapped["pause_s"] = round(time.monotonic() - paused, 3)
            return swapped
        finally:
            old.close()
            new.close()

    def stop(self) -> None:
        """Shadow mode off: capture triggers and log removed from the primary; the shadow is left as is."""
        current = self._require()
        primary = self.open(current["primary"])
        try:
            with primary.transaction():
                drop_triggers(primary, "shadow_log_")
                primary.execute(f"DROP TABLE IF EXISTS {LOG}")
        finally:
            primary.close()
        state_file.remove(self.state_path)


def _close(shipper: Shipper | None) -> None:
    if shipper is not None:
        shipper.primary.close()
        shipper.shadow.close()


def _ship_racing(primary: Db, shadow: Db, *, locked: bool = False) -> int:
    """`ship_once`, beside a running shipper (`manage.py shadow run`): a lost race is tried again."""
    for _ in range(20):
        try:
            return ship_once(primary, shadow, locked=locked)
        except PositionMoved:
            continue
    raise ShadowError("the position keeps moving under the cut-over; stop the other shippers and retry")


def _safe(url: str) -> str:
    """A URL for display: never anything after an @ or a query (tokens are not in URLs, but be sure)."""
    return url.split("?")[0].split("@")[-1]
