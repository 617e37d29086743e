"""atomic_retry: a transaction that sqld rolled back as busy runs again whole; nothing is doubled."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, connections, transaction

from config.db import atomic_retry, is_busy, run_atomic_retry
from tests.config.conftest import Sqld, database_alias

pytestmark = pytest.mark.sqld


@pytest.fixture
def remote(sqld_servers: Sqld, django_db_blocker: Any) -> Any:
    url = sqld_servers.start("retry")
    with django_db_blocker.unblock(), database_alias("retry", url, {"auth_token": sqld_servers.token}):
        with connections["retry"].cursor() as cursor:
            cursor.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, note TEXT UNIQUE)")
        yield "retry"


def rows(alias: str) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT note FROM ledger ORDER BY id")
        return cursor.fetchall()


def test_a_transaction_timed_out_by_sqld_is_run_again_whole_and_its_side_effect_once(remote: str) -> None:
    # sqld takes the write lock from a transaction older than 5 s when another writer waits, and
    # rolls it back ("Transaction timed out"). The first attempt is made that slow on purpose.
    attempts: list[int] = []
    sent: list[str] = []
    other_waits = threading.Event()
    threads: list[threading.Thread] = []

    def other_writer() -> None:
        other_waits.set()
        try:
            with transaction.atomic(using=remote):  # BEGIN IMMEDIATE: queued behind the first
                connections[remote].cursor().execute("INSERT INTO ledger (note) VALUES ('other')")
        finally:
            connections[remote].close()

    @atomic_retry(using=remote)
    def book() -> str:
        attempts.append(1)
        cursor = connections[remote].cursor()
        cursor.execute("INSERT INTO ledger (note) VALUES ('booked')")
        transaction.on_commit(lambda: sent.append("notified"), using=remote)
        if len(attempts) == 1:
            threads.append(threading.Thread(target=other_writer))
            threads[0].start()
            other_waits.wait(5)
            threading.Event().wait(5.5)
            cursor.execute("INSERT INTO ledger (note) VALUES ('second row of the first attempt')")
        return "done"

    assert book() == "done"
    threads[0].join(10)
    assert len(attempts) == 2
    assert sent == ["notified"]
    assert sorted(rows(remote)) == [("booked",), ("other",)]


def test_without_the_retry_the_same_transaction_fails(remote: str) -> None:
    # The control for the test above: the server really does roll the slow transaction back.
    def other_writer() -> None:
        try:
            with transaction.atomic(using=remote):
                connections[remote].cursor().execute("INSERT INTO ledger (note) VALUES ('other')")
        finally:
            connections[remote].close()

    def slow_booking() -> None:
        with transaction.atomic(using=remote):
            cursor = connections[remote].cursor()
            cursor.execute("INSERT INTO ledger (note) VALUES ('booked')")
            other.start()
            threading.Event().wait(5.8)
            cursor.execute("INSERT INTO ledger (note) VALUES ('more')")

    other = threading.Thread(target=other_writer)
    with pytest.raises(OperationalError) as caught:
        slow_booking()
    other.join(10)
    assert is_busy(caught.value)
    assert rows(remote) == [("other",)]


def test_a_failure_after_commit_is_logged_not_raised_nor_retried(
    remote: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def book() -> int:
        calls.append(1)
        connections[remote].cursor().execute("INSERT INTO ledger (note) VALUES ('filled')")

        def notify() -> None:
            raise OperationalError("database is locked")  # e.g. a notification write that timed out

        transaction.on_commit(notify, using=remote)
        return 42

    assert run_atomic_retry(book, using=remote) == 42
    assert calls == [1]
    assert rows(remote) == [("filled",)]
    assert "after the transaction committed" in caplog.text


def test_other_errors_are_raised_at_once(remote: str) -> None:
    calls: list[int] = []

    def duplicate() -> None:
        calls.append(1)
        cursor = connections[remote].cursor()
        cursor.execute("INSERT INTO ledger (note) VALUES ('same')")
        cursor.execute("INSERT INTO ledger (note) VALUES ('same')")

    with pytest.raises(IntegrityError):
        run_atomic_retry(duplicate, using=remote)
    assert calls == [1]
    assert rows(remote) == []


def test_inside_an_outer_transaction_it_runs_once_and_lets_the_outer_block_decide(remote: str) -> None:
    calls: list[int] = []

    def busy() -> None:
        calls.append(1)
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError), transaction.atomic(using=remote):
        run_atomic_retry(busy, using=remote)
    assert calls == [1]


def test_busy_errors_give_up_after_the_attempts(remote: str) -> None:
    calls: list[int] = []

    def always_busy() -> None:
        calls.append(1)
        connections[remote].cursor().execute("INSERT INTO ledger (note) VALUES ('x')")
        raise OperationalError("Transaction timed out (TRANSACTION_TIMEOUT)")

    with pytest.raises(OperationalError, match="timed out"):
        run_atomic_retry(always_busy, using=remote, attempts=3)
    assert calls == [1, 1, 1]
    assert rows(remote) == []
