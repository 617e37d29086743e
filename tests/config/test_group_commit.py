"""GroupCommit: threads' writes queued into one transaction; each answered only after its commit,
and one faulty item fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest
from django.db import IntegrityError, connections

from accounts.models import User
from accounts.notifications.models import Notification
from config.group_commit import GroupCommit
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
MISSING_USER = 10**9  # no such user: the row's foreign key fails at COMMIT (SQLite defers it)


def notify(user_ids: Sequence[int]) -> list[Notification | Exception]:
    return [Notification.objects.create(user_id=pk, kind="order_filled", title="t") for pk in user_ids]


def wait_until(check: Callable[[], bool]) -> None:
    """Waits (not a timed assert: the test fails below, not here) until `check()` holds."""
    deadline = time.monotonic() + 30
    while not check() and time.monotonic() < deadline:
        time.sleep(0.001)


def submit_batched(
    group: GroupCommit[int, Notification], turn: threading.Lock, items: list[int]
) -> dict[int, object]:
    """Submits `items` from one thread each, in order, while `turn` is held, so the first thread
    leads and the whole list is queued before it can write: one batch, deterministically."""
    answers: dict[int, object] = {}

    def client(item: int) -> None:
        try:
            row = group.submit(item)
            # Answered: the row is committed, so this thread's own connection sees it at once.
            answers[item] = row if Notification.objects.filter(pk=row.pk).exists() else "not committed"
        except Exception as exc:
            answers[item] = exc
        finally:
            connections.close_all()

    threads = []
    with turn:
        for index, item in enumerate(items):
            threads.append(threading.Thread(target=client, args=(item,)))
            threads[-1].start()
            wait_until(lambda index=index: group.queued == index + 1)
    for thread in threads:
        thread.join()
    return answers


def recording(
    write: Callable[[Sequence[int]], list[Notification | Exception]], batches: list[list[int]]
) -> Callable[[Sequence[int]], list[Notification | Exception]]:
    """`write`, noting each batch it is given in `batches`."""

    def recorded(user_ids: Sequence[int]) -> list[Notification | Exception]:
        batches.append(list(user_ids))
        return write(user_ids)

    return recorded


def test_queued_items_are_written_in_one_transaction_and_each_answered_committed() -> None:
    users: list[User] = [UserFactory() for _ in range(3)]
    batches: list[list[int]] = []
    turn = threading.Lock()
    group = GroupCommit(recording(notify, batches), turn=lambda: turn)
    answers = submit_batched(group, turn, [u.pk for u in users])

    assert batches == [[u.pk for u in users]]
    assert (group.batches, group.items) == (1, 3)
    assert [answers[u.pk].user_id for u in users] == [u.pk for u in users]  # type: ignore[attr-defined]


def test_an_item_is_answered_only_after_its_commit_and_a_faulty_one_fails_alone() -> None:
    # The row of the missing user is inserted without complaint; only the COMMIT refuses it. An
    # answer given before the commit would say it was stored: it must be the commit's refusal.
    first, last = UserFactory(), UserFactory()
    batches: list[list[int]] = []
    turn = threading.Lock()
    group = GroupCommit(recording(notify, batches), turn=lambda: turn)
    answers = submit_batched(group, turn, [first.pk, MISSING_USER, last.pk])

    assert isinstance(answers[MISSING_USER], IntegrityError)
    assert isinstance(answers[first.pk], Notification)
    assert isinstance(answers[last.pk], Notification)
    # The batch failed whole at its COMMIT, then each was written alone.
    assert batches == [[first.pk, MISSING_USER, last.pk], [first.pk], [MISSING_USER], [last.pk]]
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted([first.pk, last.pk])


def test_a_refusal_returned_for_one_item_is_raised_to_its_caller_only() -> None:
    users = [UserFactory() for _ in range(3)]
    turn = threading.Lock()

    def write(user_ids: Sequence[int]) -> list[Notification | Exception]:
        return [ValueError("refused") if pk == users[1].pk else notify([pk])[0] for pk in user_ids]

    group = GroupCommit(write, turn=lambda: turn)
    answers = submit_batched(group, turn, [u.pk for u in users])

    assert isinstance(answers[users[1].pk], ValueError)
    assert (group.batches, group.items) == (1, 3)
    assert sorted(Notification.objects.values_list("user_id", flat=True)) == sorted(
        [users[0].pk, users[2].pk]
    )
