"""The embedded default database (config/sqlite): private files, WAL, IMMEDIATE write transactions."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction

from config.sqlite.base import writer_turn
from tests.config.test_exact_decimals import alias_on


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def embedded(tmp_path: Path, django_db_blocker: Any) -> Iterator[str]:
    options = {"transaction_mode": "IMMEDIATE", "timeout": 5}
    name = str(tmp_path / "brute.db")
    with alias_on("embedded", "config.sqlite", name, options) as alias, django_db_blocker.unblock():
        yield alias


def test_the_default_database_is_the_embedded_sqlite_backend() -> None:
    default = settings.DATABASES["default"]
    assert default["ENGINE"] == "config.sqlite"
    assert default["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # type: ignore[index]
    assert default["CONN_MAX_AGE"] == 0


def test_the_file_and_its_wal_are_created_private(embedded: str, tmp_path: Path) -> None:
    with connections[embedded].cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
    files = {p.name: mode_of(p) for p in tmp_path.iterdir()}
    assert files == {"brute.db": 0o600, "brute.db-wal": 0o600, "brute.db-shm": 0o600}


def test_an_existing_file_readable_by_others_is_narrowed(tmp_path: Path, django_db_blocker: Any) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    with alias_on("old", "config.sqlite", str(path), {}) as alias, django_db_blocker.unblock():
        connections[alias].ensure_connection()
    assert mode_of(path) == 0o600


def test_it_runs_wal_with_normal_sync(embedded: str) -> None:
    with connections[embedded].cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]
    assert (journal, synchronous) == ("wal", 1)  # 1 is NORMAL


def test_a_read_then_write_transaction_waits_instead_of_failing(embedded: str) -> None:
    """The deferred-transaction trap: a transaction that read before another connection committed
    could never upgrade to the write lock. IMMEDIATE takes it at BEGIN, so the second writer waits."""
    with connections[embedded].cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    connections[embedded].close()
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with transaction.atomic(using=embedded), connections[embedded].cursor() as cursor:
                    cursor.execute("SELECT n FROM counter")
                    n = cursor.fetchone()[0]
                    cursor.execute("UPDATE counter SET n = %s", [n + 1])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections[embedded].close()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connections[embedded].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        assert cursor.fetchone()[0] == 100
    assert errors == []


def test_the_writer_turn_is_one_process_at_a_time_on_a_private_lock_file(embedded: str) -> None:
    # Another process (not a thread: flock is per open file) tries the lock while this one holds it.
    lock = Path(f"{connections[embedded].settings_dict['NAME']}-writer.lock")
    attempt = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError: print('busy')\n"
        "else: print('free')"
    )

    def other() -> str:
        return subprocess.run(
            [sys.executable, "-c", attempt, str(lock)], capture_output=True, text=True, check=True
        ).stdout.strip()

    with writer_turn(embedded):
        held = other()
    assert (held, other()) == ("busy", "free")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_destroying_a_test_database_removes_its_writer_lock(embedded: str) -> None:
    connection = connections[embedded]
    name = str(connection.settings_dict["NAME"])
    connection.ensure_connection()
    with writer_turn(embedded):
        pass
    connection.close()
    assert Path(f"{name}-writer.lock").exists()
    connection.creation.destroy_test_db(verbosity=0)
    assert not Path(name).exists()
    assert not Path(f"{name}-writer.lock").exists()
