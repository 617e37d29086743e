"""Reads: which backups exist (from the storage, the source of truth), their chains and runs."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.db.models import QuerySet

from backups.errors import BackupError
from backups.manifest import FULL, Summary, id_from_sidecar
from backups.models import BackupRun
from backups.storage import BackupStore, backup_store

logger = logging.getLogger("backups")
OK = "ok"
MISSING_ARCHIVE = "missing-archive"
DAMAGED_ARCHIVE = "damaged-archive"
DAMAGED = "damaged-sidecar"
BROKEN_CHAIN = "broken-chain"
# What a listing shows for a backup whose sidecar, archive size and chain are fine: listing reads no
# archive, so only a verification can say its bytes are right (`shown_status`).
UNVERIFIED = "unverified"
VERIFIED = "verified"
VERIFY_FAILED = "verify-failed"


@dataclass(frozen=True)
class BackupListing:
    id: str
    status: str
    summary: Summary | None
    problem: str = ""

    @property
    def downloadable(self) -> bool:
        """Whether there is an archive to download (damaged or not: an operator may want to look)."""
        return self.summary is not None and self.status != MISSING_ARCHIVE

    def as_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "id": self.id,
            "kind": s.kind if s else None,
            "parent": s.parent if s else None,
            "created": s.created if s else None,
            "size": s.size if s else None,
            "file_count": s.file_count if s else None,
            "encrypted": s.encrypted if s else None,
            "note": s.note if s else "",
            "archive": s.archive if s else None,
            "status": self.status,
            "problem": self.problem,
        }


def backup_damaged_ids(listings: list[BackupListing]) -> set[str]:
    return {item.id for item in listings if item.summary is None}


def backup_summaries(*, store: BackupStore | None = None) -> dict[str, Summary]:
    """Every readable sidecar by id, oldest first; damaged sidecars are left out."""
    return {item.id: item.summary for item in backup_list(store=store) if item.summary}


def backup_list(*, store: BackupStore | None = None) -> list[BackupListing]:
    store = store or backup_store()
    names = set(store.names())
    listings: list[BackupListing] = []
    for name in sorted(names):
        backup_id = id_from_sidecar(name)
        if backup_id is None:
            continue
        try:
            with store.open(name) as handle:
                summary = Summary.from_json(handle.read(), name=name)
        except BackupError as exc:
            listings.append(BackupListing(id=backup_id, status=DAMAGED, summary=None, problem=str(exc)))
            continue
        listings.append(_listing(summary, names, store))
    by_id = {item.id: item for item in listings}
    return [_with_chain_status(item, by_id) for item in sorted(listings, key=_order)]


def _order(item: BackupListing) -> tuple[str, str]:
    return (item.summary.created if item.summary else "", item.id)


def _listing(summary: Summary, names: set[str], store: BackupStore) -> BackupListing:
    if summary.archive not in names:
        return BackupListing(summary.id, MISSING_ARCHIVE, summary, f"{summary.archive} is missing")
    if store.size(summary.archive) != summary.size:
        problem = f"{summary.archive} has {store.size(summary.archive)} bytes, {summary.size} recorded"
        return BackupListing(summary.id, DAMAGED_ARCHIVE, summary, problem)
    return BackupListing(summary.id, OK, summary)


def _with_chain_status(item: BackupListing, by_id: dict[str, BackupListing]) -> BackupListing:
    current = item
    while current.summary and current.summary.kind != FULL and current.status == OK:
        parent = by_id.get(current.summary.parent or "")
        if parent is None or parent.status != OK:
            problem = f"its chain is broken at {current.summary.parent}"
            return BackupListing(item.id, BROKEN_CHAIN, item.summary, problem) if item.status == OK else item
        current = parent
    return item


def shown_status(item: BackupListing, verification: dict[str, Any] | None) -> str:
    """The status an operator sees: what is wrong, or else what the last verification found."""
    if item.status != OK:
        return item.status
    if verification is None:
        return UNVERIFIED
    return VERIFIED if verification.get("ok") else VERIFY_FAILED


def backup_rows() -> list[tuple[BackupListing, dict[str, Any] | None, str]]:
    """Every backup, newest first, with its last verification and its shown status."""
    verified = backup_last_verifications()
    rows = []
    for item in reversed(backup_list()):
        verification = verified.get(item.id)
        rows.append((item, verification, shown_status(item, verification)))
    return rows


def backup_newest(*, store: BackupStore | None = None) -> Summary | None:
    usable = [item.summary for item in backup_list(store=store) if item.summary and item.status == OK]
    return usable[-1] if usable else None


def backup_chain(
    *, summaries: dict[str, Summary], backup_id: str, damaged: Collection[str] = ()
) -> list[Summary]:
    """The backup and its ancestors, full backup first; checks each link against the parent's hash.
    `damaged`: the ids whose sidecar cannot be read, so a link to one is named damaged, not missing."""
    if backup_id not in summaries:
        raise BackupError(f"no backup {backup_id} in the backup storage")
    chain = [summaries[backup_id]]
    while chain[-1].kind != FULL:
        child = chain[-1]
        parent = summaries.get(child.parent or "")
        if parent is None and child.parent in damaged:
            raise BackupError(f"backup {child.id}: its parent {child.parent} is damaged (unreadable sidecar)")
        if parent is None:
            raise BackupError(f"backup {child.id}: its parent {child.parent} is missing")
        if parent.archive_sha256 != child.parent_archive_sha256:
            raise BackupError(f"backup {child.id}: its parent {parent.id} was replaced (SHA-256 differs)")
        if len(chain) > 10_000 or parent in chain:
            raise BackupError(f"backup {child.id}: its chain loops")
        chain.append(parent)
    return list(reversed(chain))


def backup_run_list(*, limit: int = 20) -> QuerySet[BackupRun]:
    return BackupRun.objects.select_related("requested_by").order_by("-created_at")[:limit]


def backup_last_verifications() -> dict[str, dict[str, Any]]:
    """The latest verification result per backup id: {"ok", "problem", "at"}. None known when the
    database cannot say (a fresh host listing the backups it is about to restore from)."""
    latest: dict[str, dict[str, Any]] = {}
    runs = BackupRun.objects.filter(action=BackupRun.Action.VERIFY, finished_at__isnull=False)
    try:
        for run in runs.order_by("finished_at"):
            for backup_id, outcome in run.result.get("backups", {}).items():
                latest[backup_id] = {**outcome, "at": run.finished_at}
    except DatabaseError as exc:
        logger.warning("backups: no verification results from the database (%s)", exc)
        return {}
    return latest
