# ruff: noqa: S608 (identifiers come from sqlite_master and are quoted by q(); values are bound)
"""Shadow mode's verification: row counts and SHA-256 digests of rows per table and rowid range
(BUCKET rows), compared between the primary and the shadow; a range that differs while no unshipped
log entry touches it diverges (config/shadow/core.py captures and ships; see its docstring)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from config import metrics
from config.shadow.core import BUCKET, LOG, Table, _key, _position, app_tables, now_iso, q
from config.shadow.db import Db


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
