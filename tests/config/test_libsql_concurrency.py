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
