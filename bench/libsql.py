"""Inserts/s and point reads/s: the libsql backend's embedded file against plain stdlib sqlite3.

Both go through the same Django cursor API on a scratch table in a temporary folder, WAL mode, one
connection each, so the figure shows what the driver and the adapter cost. Stays under ~20 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench._databases import database_settings

ROWS = 5_000  # inside one atomic block
COMMITS = 300  # autocommit inserts: each waits for an fsync, so few of them
READS = 5_000
INSERT = "INSERT INTO bench (symbol, price, qty) VALUES (%s, %s, %s)"


def _measure(label: str, connection: Any) -> None:
    from django.db import transaction

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("CREATE TABLE bench (id INTEGER PRIMARY KEY, symbol TEXT, price TEXT, qty BIGINT)")
        started = time.perf_counter()
        for i in range(COMMITS):
            cursor.execute(INSERT, ["BTCUSDT", "1.5", i])
        autocommit = COMMITS / (time.perf_counter() - started)
        started = time.perf_counter()
        with transaction.atomic(using=connection.alias):
            for i in range(ROWS):
                cursor.execute(INSERT, ["ETHUSDT", "2.5", 2**40 + i])
        batched = ROWS / (time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(READS):
            cursor.execute("SELECT symbol, price, qty FROM bench WHERE id = %s", [i % (ROWS + COMMITS) + 1])
            cursor.fetchone()
        reads = READS / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(50):
        connection.close()
        connection.ensure_connection()
    connects = 50 / (time.perf_counter() - started)
    print(
        f"{label:>16}: {autocommit:9,.0f} inserts/s (autocommit)  {batched:9,.0f} inserts/s (one atomic)  "
        f"{reads:9,.0f} point reads/s  {connects:7,.0f} connects/s"
    )


def run() -> None:
    import django
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

    django.setup()
    from config.libsql.base import DatabaseWrapper as LibsqlWrapper

    with tempfile.TemporaryDirectory() as folder:
        for label, wrapper, engine in (
            ("sqlite3 (stdlib)", SQLiteWrapper, "django.db.backends.sqlite3"),
            ("libsql embedded", LibsqlWrapper, "config.libsql"),
        ):
            alias = f"bench_{label[:6]}"
            connection = wrapper(database_settings(engine, Path(folder) / f"{engine}.db"), alias=alias)
            connections[alias] = connection  # so transaction.atomic(using=alias) finds it
            try:
                _measure(label, connection)
            finally:
                connection.close()
                del connections[alias]
