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

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from config.shadow.db import Db, ShadowDbError, StatementFailed

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
