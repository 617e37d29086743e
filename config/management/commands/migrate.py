"""Django's `migrate`, run by one process at a time per database.

Two `migrate` runs at once on a fresh sqld both created `backups_backuprun`, and one failed with
"table already exists" (issue 15): each web replica migrated on start. SQLite and sqld have no
advisory locks, so the lock is a row: `brute_migrate_lock` holds at most one row (id = 1), inserted
before migrating and deleted after. A second run waits for the row to go, then migrates (usually
nothing is left to do) and exits 0 too. A row older than BRUTE_MIGRATE_LOCK_STALE_S (default 900 s)
is a crashed run's and is taken over.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DatabaseError, IntegrityError, connections


class MigrationLock:
    def __init__(self, alias: str, *, stale_s: float, wait_s: float, poll_s: float = 1.0) -> None:
        self.alias, self.stale_s, self.wait_s, self.poll_s = alias, stale_s, wait_s, poll_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount or 0)

    def _taken_at(self) -> float | None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT taken_at FROM brute_migrate_lock WHERE id = 1")
            row = cursor.fetchone()
        return float(row[0]) if row else None

    def _create_table(self) -> None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'brute_migrate_lock'")
            if cursor.fetchone():
                return  # even CREATE ... IF NOT EXISTS would queue for the write lock
        for attempt in range(20):  # two first runs create it at the same moment: the loser retries
            try:
                self._execute(
                    "CREATE TABLE IF NOT EXISTS brute_migrate_lock "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT NOT NULL, taken_at REAL NOT NULL)"
                )
                return
            except DatabaseError:
                if attempt == 19:
                    raise
                time.sleep(self.poll_s)

    def acquire(self, say: Any) -> None:
        self._create_table()
        deadline = time.monotonic() + self.wait_s
        told = False
        while True:
            # Read first: a waiter that kept writing would contend for sqld's one write lock with the
            # migrating run, whose transactions then time out (sqld's TRANSACTION_TIMEOUT).
            taken_at = self._taken_at()
            if taken_at is None or taken_at < time.time() - self.stale_s:
                try:
                    if taken_at is not None:
                        self._execute("DELETE FROM brute_migrate_lock WHERE taken_at = %s", (taken_at,))
                    self._execute(
                        "INSERT INTO brute_migrate_lock (id, holder, taken_at) VALUES (1, %s, %s)",
                        (self.holder, time.time()),
                    )
                    return
                except IntegrityError:
                    pass  # another run inserted first
                except DatabaseError:  # "database is locked" while the other run writes: wait likewise
                    pass
            if time.monotonic() > deadline:
                raise CommandError(
                    f"another migrate has held the lock for over {self.wait_s:g}s; if none is running, "
                    "delete the row of the brute_migrate_lock table"
                )
            if not told:
                say("Another migrate is running on this database: waiting for it to finish.")
                told = True
            time.sleep(self.poll_s)

    def release(self) -> None:
        self._execute("DELETE FROM brute_migrate_lock WHERE holder = %s", (self.holder,))


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " One run at a time per database (a lock row in brute_migrate_lock)."

    def handle(self, *args: Any, **options: Any) -> None:
        lock = MigrationLock(
            options["database"],
            stale_s=float(os.environ.get("BRUTE_MIGRATE_LOCK_STALE_S", "900")),
            wait_s=float(os.environ.get("BRUTE_MIGRATE_LOCK_WAIT_S", "900")),
        )
        lock.acquire(lambda line: self.stdout.write(line) if options["verbosity"] >= 1 else None)
        try:
            super().handle(*args, **options)
        finally:
            lock.release()
