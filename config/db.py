"""Write transactions that are retried whole when the database was busy, never half.

    from config.db import atomic_retry

    @atomic_retry
    def order_place(*, user: User, ...) -> Order: ...   # one transaction; run again if busy

    atomic_retry(lambda: order_cancel_all(user=user), using="default")   # the same, as a call

Why: on remote libSQL (sqld, Turso) a write transaction can fail with SQLITE_BUSY, or with
"Transaction timed out" when the server took its write lock away after 5 s to give it to a waiting
writer; sqld then rolls the whole transaction back. On the embedded file, a BEGIN IMMEDIATE that
waited out its busy timeout fails the same way. Nothing of such a transaction committed, so the
only correct retry is the whole transaction, from its first read: retrying the failed statement
alone would build on reads of a snapshot that no longer exists.

The contract of the wrapped function:
- it is the outermost transaction. Inside another atomic block it runs once, in a savepoint, and
  a busy error propagates to the outer block (whose own atomic_retry, if any, retries it all);
- everything it does besides database writes (channel sends, Celery tasks, notifications) goes
  through `transaction.on_commit`: a failed attempt discards those callbacks with its rollback,
  so a retry never repeats a side effect. Exchange HTTP does not belong inside at all;
- a failure after the commit (an on_commit callback that raises) is logged, not raised, and the
  function's result is returned: the work is done and a caller that retried would do it twice.

Errors: the last busy OperationalError once `attempts` are used up; any other error at once.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

from config.libsql.hrana import retryable

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)

ATTEMPTS = 5
FIRST_PAUSE = 0.02  # seconds; doubled each attempt, jittered, at most MAX_PAUSE
MAX_PAUSE = 0.5


def is_busy(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) says the transaction was refused or rolled back as busy."""
    seen: BaseException | None = exc
    while seen is not None:
        if retryable(str(seen)):
            return True
        seen = seen.__cause__
    return False


def run_atomic_retry(func: Callable[[], T], *, using: str | None = None, attempts: int = ATTEMPTS) -> T:
    """Runs `func()` in one `transaction.atomic(using)`; a busy failure runs it again, whole."""
    alias = using or DEFAULT_DB_ALIAS
    if connections[alias].in_atomic_block:
        with transaction.atomic(using=alias):
            return func()
    pause = FIRST_PAUSE
    for attempt in range(1, attempts + 1):
        committed = False

        def mark_committed() -> None:
            nonlocal committed
            committed = True

        # Bound whenever `committed` is true: the COMMIT (and its callbacks) follow func()'s return.
        result: T
        try:
            with transaction.atomic(using=alias):
                # Registered first, so it runs first after the COMMIT, before any callback that may fail.
                transaction.on_commit(mark_committed, using=alias)
                result = func()
        except OperationalError as exc:
            if committed:
                logger.exception("a callback failed after the transaction committed; the result stands")
                return result
            if attempt == attempts or not is_busy(exc):
                raise
            logger.warning("database busy (%s); running the transaction again (attempt %d)", exc, attempt + 1)
            time.sleep(pause * (0.5 + random.random()))  # jitter: writers that collided spread out
            pause = min(pause * 2, MAX_PAUSE)
            continue
        except Exception:
            if committed:
                logger.exception("a callback failed after the transaction committed; the result stands")
                return result
            raise
        return result
    raise AssertionError("unreachable: the last attempt returns or raises")


@overload
def atomic_retry(func: Callable[P, T], /) -> Callable[P, T]: ...


@overload
def atomic_retry(
    *, using: str | None = None, attempts: int = ATTEMPTS
) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def atomic_retry(
    func: Callable[P, T] | None = None, /, *, using: str | None = None, attempts: int = ATTEMPTS
) -> Any:
    """Decorator form of `run_atomic_retry`: `@atomic_retry` or `@atomic_retry(using=..., attempts=...)`."""

    def decorate(inner: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(inner)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            return run_atomic_retry(lambda: inner(*args, **kwargs), using=using, attempts=attempts)

        return wrapper

    return decorate(func) if func is not None else decorate
