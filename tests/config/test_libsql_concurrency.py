"""Two threads of one process writing the embedded file: the second waits for the first, then succeeds."""

from __future__ import annotations

import threading
import time

from config.libsql.driver import connect


def test_a_writer_waits_for_another_threads_transaction_instead_of_failing(tmp_path):
    path = str(tmp_path / "busy.db")
    holder, waiter = connect(path, timeout=5.0), connect(path, timeout=5.0)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN")
    holder.execute("INSERT INTO t VALUES (1)")
    committed = threading.Event()

    def commit_later() -> None:
        time.sleep(0.3)
        holder.commit()
        committed.set()

    thread = threading.Thread(target=commit_later)
    thread.start()
    # Before the fix the driver slept in SQLite's busy handler holding the GIL: the holder's thread
    # could not commit and this insert failed with "database is locked" after the full timeout.
    waiter.execute("INSERT INTO t VALUES (2)")
    thread.join()
    assert committed.is_set()
    assert waiter.execute("SELECT count(*) FROM t").fetchall() == [(2,)]


def test_an_insert_returning_waits_for_the_lock_too(tmp_path):
    # Django inserts with RETURNING; the driver meets the lock when the row is fetched, not executed.
    path = str(tmp_path / "returning.db")
    holder, waiter = connect(path, timeout=5.0), connect(path, timeout=5.0)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)")
    holder.execute("BEGIN")
    holder.execute("INSERT INTO t (x) VALUES (1)")
    thread = threading.Thread(target=lambda: (time.sleep(0.3), holder.commit()))
    thread.start()
    cursor = waiter.execute("INSERT INTO t (x) VALUES (2) RETURNING id")
    thread.join()
    assert cursor.fetchall() == [(2,)]
