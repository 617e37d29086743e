"""Consistent database snapshots and the page arithmetic of incremental backups.

An embedded file is copied with SQLite's online backup API in one step (a stepwise copy restarts
on every commit from another connection and may never finish; a plain file copy misses what is
still in the WAL). The backup API keeps page numbers, so an unchanged page hashes the same in the
next snapshot and an incremental stores only pages whose SHA-256 changed. A remote libSQL database
is exported row by row through a Django connection inside one read transaction.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from backups.errors import BackupError
from backups.files import private_create
from backups.streams import Readable

REMOTE_SCHEMES = ("libsql://", "http://", "https://", "ws://", "wss://")
PAGE_RECORD = struct.Struct(">I")
DIGEST = 32


def database_name() -> str:
    """The database to back up: BACKUP_DATABASE when set (a path or URL), else the default alias."""
    return str(settings.BACKUP_DATABASE or settings.DATABASES["default"]["NAME"])


def is_remote(name: str) -> bool:
    return name.startswith(REMOTE_SCHEMES)


def database_alias_for(name: str) -> str:
    """The connection alias whose NAME is this database; the default alias when none matches."""
    matches = [alias for alias, conf in settings.DATABASES.items() if str(conf.get("NAME")) == name]
    return matches[0] if matches else "default"


def is_django_default(name: str) -> bool:
    return str(settings.DATABASES["default"]["NAME"]) == name


def snapshot_database(*, name: str, target: Path) -> None:
    if is_remote(name):
        export_through_connection(alias=database_alias_for(name), target=target)
    else:
        snapshot_file(source=Path(name), target=target)
    problem = integrity_problem(target, quick=True)
    if problem:
        raise BackupError(f"the database snapshot fails its check: {problem}")


def snapshot_file(*, source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"the database file {source} does not exist")
    src = sqlite3.connect(source, timeout=30)
    private_create(target).close()  # SQLite keeps an existing file's mode: 0600 (backups/files.py)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, see the module docstring
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"the database snapshot failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def export_through_connection(*, alias: str, target: Path) -> None:
    """Copies schema and rows into a fresh SQLite file; one transaction gives one point in time."""
    dst = sqlite3.connect(target)
    try:
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL")
            objects = list(cursor.fetchall())
            tables = [(n, s) for t, n, _tbl, s in objects if t == "table" and not n.startswith("sqlite_")]
            for table_name, sql in tables:
                dst.execute(sql)
                _copy_rows(cursor, dst, table_name)
            if any(n == "sqlite_sequence" for _t, n, _tbl, _s in objects):
                cursor.execute("SELECT name, seq FROM sqlite_sequence")
                dst.executemany("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", cursor.fetchall())
            for kind, obj_name, _tbl, sql in objects:
                if kind in ("index", "trigger", "view") and not obj_name.startswith("sqlite_"):
                    dst.execute(sql)
        dst.commit()
    except sqlite3.Error as exc:
        raise BackupError(f"the database export failed: {exc}") from exc
    finally:
        dst.close()


def import_through_connection(*, alias: str, source: Path) -> None:
    """Replaces every table of a (remote) database with the snapshot's, in one transaction.

    The mirror of the export: either the whole restored database is in place or, on any error,
    the current one is untouched. Foreign keys are deferred to the commit.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        wanted = src.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA defer_foreign_keys = ON")
            cursor.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger', 'table') "
                "AND name NOT LIKE 'sqlite_%'"
            )
            for kind, name in sorted(cursor.fetchall(), key=lambda row: row[0] == "table"):
                cursor.execute(f"DROP {kind.upper()} IF EXISTS {_quote(name)}")
            for _kind, name, sql in (row for row in wanted if row[0] == "table"):
                cursor.execute(sql)
                _push_rows(src, cursor, name)
            if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
                cursor.execute("DELETE FROM sqlite_sequence")
                _push_rows(src, cursor, "sqlite_sequence")
            for _kind, _name, sql in (row for row in wanted if row[0] != "table"):
                cursor.execute(sql)
    except sqlite3.Error as exc:
        raise BackupError(f"the database import failed: {exc}") from exc
    finally:
        src.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _push_rows(src: sqlite3.Connection, cursor: Any, table: str) -> None:
    rows = src.execute(f"SELECT * FROM {_quote(table)}")  # noqa: S608
    insert = f"INSERT INTO {_quote(table)} VALUES ({', '.join(['%s'] * len(rows.description))})"  # noqa: S608
    while batch := rows.fetchmany(1000):
        cursor.executemany(insert, batch)


def _copy_rows(cursor: object, dst: sqlite3.Connection, table: str) -> None:
    quoted = '"' + table.replace('"', '""') + '"'
    cursor.execute(f"SELECT * FROM {quoted}")  # type: ignore[attr-defined]  # noqa: S608
    width = len(cursor.description)  # type: ignore[attr-defined]
    insert = f"INSERT INTO {quoted} VALUES ({', '.join('?' * width)})"  # noqa: S608
    while rows := cursor.fetchmany(1000):  # type: ignore[attr-defined]
        dst.executemany(insert, rows)


def integrity_problem(path: Path, *, quick: bool = False) -> str | None:
    """None when SQLite's integrity check passes, else its first complaint."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = [r[0] for r in rows]
    return None if result == ["ok"] else "; ".join(result[:3])


def applied_migrations(path: Path) -> list[list[str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [[app, name] for app, name in rows]


def page_size_of(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def hash_pages(path: Path, page_size: int) -> tuple[bytes, str]:
    """The SHA-256 of every page, concatenated, and of the whole file, in one read."""
    digests = bytearray()
    whole = hashlib.sha256()
    sha = hashlib.sha256
    with path.open("rb") as handle:
        while block := handle.read(page_size * 1024):
            whole.update(block)
            view = memoryview(block)
            for start in range(0, len(block), page_size):
                digests += sha(view[start : start + page_size]).digest()
    return bytes(digests), whole.hexdigest()


def changed_pages(current: bytes, parent: bytes) -> Iterator[int]:
    for index in range(len(current) // DIGEST):
        start = index * DIGEST
        if current[start : start + DIGEST] != parent[start : start + DIGEST]:
            yield index


def write_changed_pages(*, snapshot: Path, page_size: int, pages: list[int], target: Path) -> None:
    with snapshot.open("rb") as src, private_create(target) as dst:
        for index in pages:
            src.seek(index * page_size)
            dst.write(PAGE_RECORD.pack(index) + src.read(page_size))


def apply_pages(*, pages: Readable, page_size: int, page_count: int, target: Path) -> None:
    record = PAGE_RECORD.size + page_size
    with target.open("r+b") as dst:
        while chunk := pages.read(record):
            if len(chunk) != record:
                raise BackupError("the changed-pages file is truncated")
            (index,) = PAGE_RECORD.unpack_from(chunk)
            dst.seek(index * page_size)
            dst.write(chunk[PAGE_RECORD.size :])
        dst.truncate(page_count * page_size)
