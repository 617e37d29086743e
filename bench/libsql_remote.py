"""The GIL figure for remote libSQL: how much of its solo rate a pure-Python counting thread keeps
while another thread of the same process writes to a real sqld on loopback.

Writers, each doing short write transactions (BEGIN IMMEDIATE; INSERT; COMMIT) for the same span:
- stdlib sqlite3 on a local WAL file (the baseline: it releases the GIL inside SQLite);
- the official `libsql` driver against sqld (http://), what the backend used before;
- config.libsql.hrana, Hrana over HTTP on httpx, what the backend uses for remote URLs now.

The counting thread stands for the event loop that serves WebSockets: what it loses, every
coroutine of the process loses while a database call runs. About 15 s.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

SECONDS = 2.0

Writer = Callable[[int], None]


def count_for(seconds: float, stop_writer: threading.Event | None = None) -> float:
    n = 0
    end = time.perf_counter() + seconds
    while True:
        n += 1
        if n % 10_000 == 0 and time.perf_counter() >= end:
            break
    if stop_writer is not None:
        stop_writer.set()
    return n / seconds


def beside(write: Writer) -> tuple[float, float]:
    """(counting rate, write transactions/s) with `write` looping in another thread."""
    stop = threading.Event()
    done = [0]

    def loop() -> None:
        i = 0
        while not stop.is_set():
            write(i)
            i += 1
        done[0] = i

    thread = threading.Thread(target=loop)
    thread.start()
    time.sleep(0.2)  # the writer is warm before counting starts
    started = time.perf_counter()
    rate = count_for(SECONDS, stop)
    thread.join()
    return rate, done[0] / (time.perf_counter() - started + 0.2)


def stdlib_writer(path: Path) -> Writer:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, amount TEXT)")

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (amount) VALUES (?)", (str(i),))
        conn.execute("COMMIT")

    return write


def libsql_writer(url: str) -> Writer:
    import libsql

    conn = libsql.connect(url, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS t_libsql (id INTEGER PRIMARY KEY, amount TEXT)")

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t_libsql (amount) VALUES (?)", (str(i),))
        conn.execute("COMMIT")

    return write


def hrana_writer(url: str) -> Writer:
    from config.libsql import hrana

    conn = hrana.connect(url)
    conn.execute("CREATE TABLE IF NOT EXISTS t_hrana (id INTEGER PRIMARY KEY, amount TEXT)")

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t_hrana (amount) VALUES (?)", (str(i),))
        conn.commit()

    return write


def run() -> None:
    from config.libsql.testing import SqldServers

    with tempfile.TemporaryDirectory(prefix="brute-bench-sqld-") as name, SqldServers(Path(name)) as servers:
        url = servers.start("gil", auth=False)
        solo = count_for(SECONDS)
        print(f"counting thread alone: {solo:,.0f} iterations/s (the 100 % of the lines below)")
        for label, make in (
            ("stdlib sqlite3, local WAL file (baseline)", lambda: stdlib_writer(Path(name) / "base.db")),
            ("libsql driver 0.1.8 -> sqld over HTTP", lambda: libsql_writer(url)),
            ("config.libsql.hrana (httpx) -> sqld", lambda: hrana_writer(url)),
        ):
            rate, writes = beside(make())
            print(f"{label:<44} counting thread keeps {rate / solo:6.1%}   writer: {writes:7,.0f} transactions/s")
