"""Who has the database open: every process of the app holds a shared lock while it runs, and an
in-place restore takes it exclusively, so it refuses to swap the file under a running Brute.

The lock is an `fcntl.flock` on `<database>.in-use` beside the SQLite file (under the var dir by
default). `BackupsConfig.ready()` takes it shared in every process that loads Django (gunicorn and
its workers, the Celery worker and beat, the sniper, the market feed, the shadow shipper, a shell),
and the kernel drops it when the process exits, however it exits: no stale state to clean up.
Forked children (gunicorn workers, Celery's pool) share their parent's lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backups.errors import BackupError
from backups.files import private_mkdir
from backups.snapshot import database_name, is_remote

logger = logging.getLogger("backups")
SUFFIX = ".in-use"
RUNNING = (
    "Brute is running: its processes have {db} open, and a restore in place would swap the file "
    "under them (they would keep the old data and lose new writes); stop Brute first, "
    "or restore into another directory with --target"
)

_held: dict[Path, int] = {}  # lock file -> this process's descriptor (shared lock)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + SUFFIX)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def hold_shared() -> None:
    """Marks this process as one of the app's: a shared lock on the database's lock file until exit.
    Waits while a restore holds it exclusively (the database is being replaced)."""
    name = database_name()
    if not name or is_remote(name) or name == ":memory:" or name.startswith("file:"):
        return
    path = lock_path(Path(name))
    if path in _held or not path.parent.is_dir():
        return
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.warning("waiting for the restore of %s to finish", name)
        fcntl.flock(fd, fcntl.LOCK_SH)
    _held[path] = fd


@contextmanager
def exclusive_use(database: Path) -> Iterator[None]:
    """Holds `database` for this process alone, or raises BackupError (one line) if any other
    process of the app has it open."""
    path = lock_path(database)
    private_mkdir(database.parent)
    own = _held.get(path)
    fd = own if own is not None else _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # converts our own shared lock, if any
        except BlockingIOError:
            raise BackupError(RUNNING.format(db=database)) from None
        yield
    finally:
        if own is not None:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # back to what this process held
        else:
            os.close(fd)  # drops the lock
