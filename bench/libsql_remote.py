"""The GIL figure for remote libSQL: how much of its solo rate a pure-Python counting thread keeps
while another thread of the same process writes to a real sqld on loopback.

Writers, each doing short write transactions (BEGIN IMMEDIATE; INSERT; COMMIT) for the same span:
- stdlib sqlite3 on a local WAL file (the baseline: it releases the GIL inside SQLite);
- the official `libsql` driver against sqld (http://), what the backend used before;
- config.libsql.hrana, Hrana over HTTP on httpx, what the backend uses for remote URLs now.

The counting thread stands for the event loop that serves WebSockets: what it loses, every
coroutine of the process loses while a database call runs. But a busy counting thread also slows a
GIL-holding writer down (it must win the GIL back after each call), which hides the harm; an event
loop mostly sleeps in epoll, so a 1 ms ticker beside the writer, and how late it wakes, is the
figure that shows what a WebSocket server feels. About 75 s.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

SECONDS = 1.5
ROUNDS = 3

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


def writer_alone(write: Writer) -> float:
    """Write transactions/s with no other thread competing for the GIL."""
    end = time.perf_counter() + SECONDS
    i = 0
    while time.perf_counter() < end:
        write(i)
        i += 1
    return i / SECONDS


def ticker_lag(write: Writer) -> tuple[float, float]:
    """(p50, p99) ms by which a 1 ms sleep wakes late beside `write` looping: an event loop's lag."""
    stop = threading.Event()

    def loop() -> None:
        i = 0
        while not stop.is_set():
            write(i)
            i += 1

    thread = threading.Thread(target=loop)
    thread.start()
    lags: list[float] = []
    end = time.perf_counter() + SECONDS
    while time.perf_counter() < end:
        before = time.perf_counter()
        time.sleep(0.001)
        lags.append(time.perf_counter() - before - 0.001)
    stop.set()
    thread.join()
    lags.sort()
    return lags[len(lags) // 2] * 1000, lags[int(len(lags) * 0.99)] * 1000


def run() -> None:
    from config.libsql.testing import SqldServers

    with tempfile.TemporaryDirectory(prefix="brute-bench-sqld-") as name, SqldServers(Path(name)) as servers:
        url = servers.start("gil", auth=False)
        writers: list[tuple[str, Writer]] = [
            ("no database: time.sleep(10 ms) (noise floor)", lambda i: time.sleep(0.01)),
            ("stdlib sqlite3, local WAL file (baseline)", stdlib_writer(Path(name) / "base.db")),
            ("libsql driver 0.1.8 -> sqld (http://)", libsql_writer(url)),
            ("config.libsql.hrana -> sqld (http://)", hrana_writer(url)),
        ]
        kept: dict[str, list[float]] = {label: [] for label, _ in writers}
        lag50: dict[str, list[float]] = {label: [] for label, _ in writers}
        lag99: dict[str, list[float]] = {label: [] for label, _ in writers}
        alone: dict[str, list[float]] = {label: [] for label, _ in writers}
        squeezed: dict[str, list[float]] = {label: [] for label, _ in writers}
        for _ in range(ROUNDS):
            for label, write in writers:
                solo = count_for(SECONDS)  # re-measured each time: the box's load drifts
                rate, writes = beside(write)
                kept[label].append(rate / solo)
                squeezed[label].append(writes)
                p50, p99 = ticker_lag(write)
                lag50[label].append(p50)
                lag99[label].append(p99)
                alone[label].append(writer_alone(write))
        print(
            f"beside a thread doing write transactions (BEGIN IMMEDIATE; INSERT; COMMIT); median of {ROUNDS} "
            f"rounds of {SECONDS:.1f}s. 'keeps': a pure-Python counting thread's rate against its solo rate, "
            "re-measured each time; 'lag': how late a 1 ms sleep wakes (what an event loop feels)"
        )
        for label, _ in writers:
            p50, p99 = statistics.median(lag50[label]), statistics.median(lag99[label])
            share, tps = statistics.median(kept[label]), statistics.median(alone[label])
            print(
                f"{label:<46} keeps {share:6.1%} (writer {statistics.median(squeezed[label]):5,.0f} tx/s)   "
                f"lag p50 {p50:5.2f} ms p99 {p99:6.2f} ms   writer alone {tps:6,.0f} tx/s"
            )
