from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from tests.config.conftest import sqld_servers  # noqa: F401  (a fixture: real sqld servers on loopback)

KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"o" * 32).decode()


@dataclass
class Site:
    """A standalone database file and media folder that the backup settings point at."""

    root: Path
    db: Path
    media: Path
    backups: Path

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        conn = sqlite3.connect(self.db)
        with conn:
            conn.execute(sql, params)
        conn.close()

    def rows(self, db: Path | None = None) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(db or self.db)
        try:
            return conn.execute("SELECT id, name, payload FROM item ORDER BY id").fetchall()
        finally:
            conn.close()

    def files(self, media: Path | None = None) -> dict[str, bytes]:
        root = media or self.media
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }


def make_database(path: Path, rows: int = 200) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB)")
    conn.execute("CREATE INDEX item_name ON item (name)")
    with conn:
        conn.executemany(
            "INSERT INTO item (name, payload) VALUES (?, ?)",
            [(f"item-{i}", os.urandom(300)) for i in range(rows)],
        )
    conn.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(root=tmp_path, db=tmp_path / "app.db", media=tmp_path / "media", backups=tmp_path / "backups")
    make_database(s.db)
    (s.media / "avatars").mkdir(parents=True)
    (s.media / "avatars" / "a.png").write_bytes(os.urandom(5000))
    (s.media / "notes.txt").write_text("hello\n" * 100)
    (s.media / "empty.bin").write_bytes(b"")
    with override_settings(
        BACKUP_DATABASE=str(s.db),
        BACKUP_DIR=s.backups,
        BACKUP_STORAGE=None,
        MEDIA_ROOT=s.media,
        BACKUP_COMPRESSION="gzip",
        BACKUP_ENCRYPT=False,
        BACKUP_ENCRYPTION_KEY=KEY,
        BACKUP_ENCRYPTION_KEY_FILE=None,
    ):
        yield s
