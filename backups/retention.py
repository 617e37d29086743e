"""The retention rule, kept apart from storage so it can be reasoned about (and tested) alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from backups.manifest import FULL, Summary


@dataclass(frozen=True)
class Policy:
    last: int
    daily: int
    weekly: int
    monthly: int


def _period_keeper(key: Callable[[datetime], object], count: int, newest_first: list[Summary]) -> set[str]:
    """The newest backup of each of the `count` most recent periods that have a backup."""
    kept: set[str] = set()
    seen: set[object] = set()
    for summary in newest_first:
        period = key(summary.created_at)
        if period in seen:
            continue
        if len(seen) >= count:
            break
        seen.add(period)
        kept.add(summary.id)
    return kept


def to_keep(summaries: list[Summary], policy: Policy) -> set[str]:
    newest_first = sorted(summaries, key=lambda s: (s.created, s.id), reverse=True)
    keep = {s.id for s in newest_first[: policy.last]}
    keep |= _period_keeper(lambda t: t.date(), policy.daily, newest_first)
    keep |= _period_keeper(lambda t: t.isocalendar()[:2], policy.weekly, newest_first)
    keep |= _period_keeper(lambda t: (t.year, t.month), policy.monthly, newest_first)
    by_id = {s.id: s for s in summaries}
    for backup_id in list(keep):
        current = by_id[backup_id]
        while current.kind != FULL and current.parent in by_id:
            current = by_id[current.parent]
            keep.add(current.id)
    return keep
