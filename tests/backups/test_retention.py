from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from django.test import override_settings

from backups import retention, services
from backups.manifest import FULL, INCREMENTAL, Summary
from backups.selectors import backup_list
from tests.backups.conftest import Site


def summary(backup_id: str, created: datetime, kind: str = FULL, parent: str | None = None) -> Summary:
    return Summary(
        id=backup_id, kind=kind, parent=parent, parent_archive_sha256=None, created=created.isoformat(),
        app_version="t", note="", compression="gzip", encrypted=False, key_id=None,
        archive=f"{backup_id}.tar.gz", size=1, archive_sha256="", manifest_sha256="", file_count=0,
        database_size=0,
    )  # fmt: skip


def test_it_keeps_the_last_n_and_the_newest_of_each_day_week_and_month() -> None:
    start = datetime(2026, 1, 1, 3, tzinfo=UTC)
    daily = [summary(f"d{i:03}", start + timedelta(days=i)) for i in range(120)]

    keep = retention.to_keep(daily, retention.Policy(last=2, daily=3, weekly=2, monthly=3))

    newest = [s.id for s in daily[-3:]]
    weeks = ["d119", "d115"]  # Thursday 2026-04-30 in this week, Sunday 04-26 closing the last one
    month_ends = ["d119", "d089", "d058"]  # 2026-04-30, 03-31, 02-28
    assert keep == set(newest) | set(weeks) | set(month_ends)


def test_a_kept_incremental_keeps_its_whole_chain() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    full = summary("f", start)
    first = summary("i1", start + timedelta(hours=1), INCREMENTAL, "f")
    second = summary("i2", start + timedelta(hours=2), INCREMENTAL, "i1")

    keep = retention.to_keep([full, first, second], retention.Policy(last=1, daily=0, weekly=0, monthly=0))

    assert keep == {"f", "i1", "i2"}


def test_prune_deletes_what_the_policy_lets_go(site: Site) -> None:
    made = []
    for day in range(6):
        with time_machine.travel(datetime(2026, 3, 1 + day, 3, tzinfo=UTC), tick=False):
            made.append(services.backup_create(incremental=day % 2 == 1))
    with override_settings(
        BACKUP_KEEP_LAST=1, BACKUP_KEEP_DAILY=2, BACKUP_KEEP_WEEKLY=0, BACKUP_KEEP_MONTHLY=0
    ):
        outcome = services.backup_prune(now=datetime(2026, 3, 7, tzinfo=UTC))

    # The two newest days are kept; the newest is an incremental, so its full parent stays too.
    assert outcome.kept == sorted(s.id for s in made[4:6])
    assert sorted(outcome.deleted) == sorted(s.id for s in made[:4])
    assert [item.id for item in backup_list()] == [s.id for s in made[4:6]]
    assert sorted(p.name for p in site.backups.iterdir()) == sorted(
        name for s in made[4:6] for name in (s.archive, s.sidecar)
    )
