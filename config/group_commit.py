"""Group commit: the same kind of write from many threads of a process, several in one transaction.

    placements = GroupCommit(placements_write, turn=paper_write_turn)
    row = placements.submit(placement)   # returns once the transaction holding it has committed

Why (issue 11): on the embedded SQLite file every write transaction of every process takes the one
write lock in turn. A paper order held it about 7 ms of wall time, most of it its thread waiting to
get the GIL back between statements, so the gunicorn workers' orders queued on it one by one. Here
the threads of a process that want the same write queue their items; one of them (the leader, the
first to find no leader at work) takes its turn on `turn`, then writes every queued item in ONE
`BEGIN IMMEDIATE` transaction (config/db.py: retried whole when busy) and wakes each waiter with its
own item's outcome. The others wait on a condition, without the GIL, instead of competing for it.
This is flat combining (Hendler et al., 2010) with the database's group commit on top.

The contract of `write(items)`: it runs inside the transaction and returns one outcome per item, in
order: the item's result, or an Exception (a refusal, e.g. InsufficientBalance) when that item wrote
nothing and the others stand. When `write` raises instead, nothing of the batch was committed: a
batch of several is written again one item per transaction, so only the item at fault fails.

What a caller can rely on:
- `submit` returns (or raises its item's refusal) only after the COMMIT that holds its item: an
  answer given is committed, and a failure answered means nothing of the item was written;
- a waiter never gives up on its own: the leader always finishes (the busy retries of config/db.py
  bound it), and answering before the outcome is known could tell a client "failed" about an order
  that then commits;
- inside a caller's own transaction the item is written at once, alone, in that transaction (its
  write lock may be held already; queueing behind another thread would deadlock).

Errors: the item's refusal as `write` returned it; the database's error when its transaction failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from config.db import is_busy, run_atomic_retry

I = TypeVar("I")  # noqa: E741  # an item to write
R = TypeVar("R")  # its result

log = logging.getLogger(__name__)

MAX_BATCH = 64  # items a transaction: a few ms of work, well under SQLite's bound-value limit


@dataclass(eq=False)
class _Job(Generic[I, R]):
    item: I
    done: bool = False
    result: R | None = None
    error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set with done when there is no error


class GroupCommit(Generic[I, R]):
    """A process's queue of one kind of write; see the module's docstring."""

    def __init__(
        self,
        write: Callable[[Sequence[I]], list[R | Exception]],
        *,
        turn: Callable[[], AbstractContextManager[object]] | None = None,
        using: str = DEFAULT_DB_ALIAS,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`turn()`: what the leader holds while it writes (a lock shared with the process's other
        writers to the same database, so they take turns in the process instead of in SQLite's busy
        handler); a lock of its own by default."""
        self._write = write
        own = threading.Lock()
        self._turn = turn or (lambda: own)
        self._using = using
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Job[I, R]] = []
        self._leading = False
        self.batches = 0  # transactions committed, and the items they held: for benchmarks
        self.items = 0

    @property
    def queued(self) -> int:
        """Items waiting for a leader to take them."""
        with self._cond:
            return len(self._queue)

    def submit(self, item: I) -> R:
        """Writes `item` and returns its result once committed (or raises its refusal)."""
        if connections[self._using].in_atomic_block:
            with transaction.atomic(using=self._using):
                return self._alone(item)
        job: _Job[I, R] = _Job(item)
        with self._cond:
            self._queue.append(job)
            while self._leading and not job.done:
                self._cond.wait()
            if job.done:
                return job.outcome()
            self._leading = True
        try:
            while not job.done:  # the queue may hold more than a batch ahead of this thread's item
                with self._turn():
                    with self._cond:
                        batch = self._queue[: self._max_batch]
                        del self._queue[: len(batch)]
                    self._commit(batch)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return job.outcome()

    def _alone(self, item: I) -> R:
        [outcome] = self._write([item])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _commit(self, batch: list[_Job[I, R]]) -> None:
        """Writes `batch` in one transaction; every job of it is done when this returns."""
        try:
            self._transaction(batch)
        except BaseException as exc:
            if len(batch) > 1 and isinstance(exc, Exception) and not is_busy(exc):
                # Nothing of the batch committed: one transaction per item shows whose fault it was.
                log.warning("a batch of %d writes failed (%s); writing them one by one", len(batch), exc)
                for job in batch:
                    self._commit_alone(job)
                return
            self._publish(batch, [exc] * len(batch))
            if not isinstance(exc, Exception):
                raise

    def _commit_alone(self, job: _Job[I, R]) -> None:
        try:
            self._transaction([job])
        except Exception as exc:
            self._publish([job], [exc])

    def _transaction(self, batch: list[_Job[I, R]]) -> None:
        items = [job.item for job in batch]
        outcomes: list[R | Exception] = []

        def attempt() -> None:
            # Registered first, so the waiters wake at the COMMIT, before the write's own callbacks.
            transaction.on_commit(lambda: self._publish(batch, outcomes), using=self._using)
            outcomes[:] = self._write(items)
            if len(outcomes) != len(batch):
                raise AssertionError(f"{len(outcomes)} outcomes for {len(batch)} items")

        run_atomic_retry(attempt, using=self._using)
        self._publish(batch, outcomes)  # when a callback before ours failed (run_atomic_retry logged it)
        self.batches += 1
        self.items += len(batch)

    def _publish(self, batch: Sequence[_Job[I, R]], outcomes: Sequence[R | BaseException]) -> None:
        with self._cond:
            for job, outcome in zip(batch, outcomes, strict=True):
                if job.done:
                    continue
                if isinstance(outcome, BaseException):
                    job.error = outcome
                else:
                    job.result = outcome
                job.done = True
            self._cond.notify_all()
