"""Backup actions: create, verify, restore, prune. Knows the database and files only through settings."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from backups import retention
from backups.archive import (
    DATABASE,
    MEDIA_PREFIX,
    PAGE_HASHES,
    PAGES,
    Member,
    MemberStream,
    member_from_bytes,
    member_from_file,
    read_archive,
    write_archive,
)
from backups.crypto import key_configured, key_from_settings, key_id, sidecar_mac, sidecar_mac_valid
from backups.errors import BackupError, ChainStepError, UnauthenticatedError, WrongKeyError
from backups.files import make_private, private_mkdir
from backups.inuse import exclusive_use
from backups.manifest import FORMAT, FULL, INCREMENTAL, Summary, new_backup_id
from backups.models import BackupRun
from backups.notify import operator_notify
from backups.rebuild import Rebuilt, file_sha256, rebuild_staged, remove_tree
from backups.selectors import backup_chain, backup_damaged_ids, backup_list, backup_newest, backup_summaries
from backups.snapshot import (
    applied_migrations,
    changed_pages,
    database_alias_for,
    database_name,
    hash_pages,
    import_through_connection,
    integrity_problem,
    is_django_default,
    is_remote,
    page_size_of,
    snapshot_database,
    snapshot_file,
    write_changed_pages,
)
from backups.storage import BackupStore, LocalStore, backup_store
from backups.streams import SUFFIXES
from config.enqueue import task_queue

__all__ = [
    "BackupError",
    "backup_create",
    "backup_prune",
    "backup_restore",
    "backup_verify",
    "operator_notify",
]

logger = logging.getLogger("backups")
NO_PARENT_NOTE = "No backup yet to build an incremental on: took a full backup instead."
Progress = Callable[[str, int, int], None]


def _quiet(phase: str, done: int, total: int) -> None:
    pass


def backup_create(
    *,
    incremental: bool = False,
    encrypt: bool | None = None,
    note: str = "",
    progress: Progress | None = None,
    full_if_no_parent: bool = False,
) -> Summary:
    """A full backup, or an incremental one on top of the newest backup; returns its summary. An
    incremental with no usable backup to build on is refused, or with `full_if_no_parent` taken as a
    full backup (the summary's kind says which)."""
    progress = progress or _quiet
    store = backup_store()
    encrypt = settings.BACKUP_ENCRYPT if encrypt is None else encrypt
    parent = backup_newest(store=store) if incremental else None
    if incremental and parent is None:
        if not full_if_no_parent:
            raise BackupError(
                "there is no usable backup to build an incremental on; create a full backup first"
            )
        logger.info("Incremental backup: %s", NO_PARENT_NOTE)
    # An incremental of an encrypted chain stays encrypted, whatever the setting says today.
    encrypt = encrypt or (parent is not None and parent.encrypted)
    signing_key = key_from_settings() if encrypt or key_configured() else None
    key = signing_key if encrypt else None
    if parent is not None:
        # Building on a forged parent would lend it this backup's signature.
        parents = backup_chain(summaries=backup_summaries(store=store), backup_id=parent.id)
        chain_authenticate(chain=parents, key=signing_key)
    created = timezone.now()
    backup_id = new_backup_id(created)
    staging = store.staging_dir()
    try:
        return _create_in(
            store=store,
            staging=staging,
            backup_id=backup_id,
            created=created,
            parent=parent,
            key=key,
            signing_key=signing_key,
            note=note,
            progress=progress,
        )
    except OSError as exc:
        raise BackupError(
            f"backup {backup_id} failed: {exc.strerror or exc} ({exc.filename or 'archive'})"
        ) from exc
    finally:
        remove_tree(staging)


def _create_in(
    *,
    store: BackupStore,
    staging: Path,
    backup_id: str,
    created: datetime,
    parent: Summary | None,
    key: bytes | None,
    signing_key: bytes | None,
    note: str,
    progress: Progress,
) -> Summary:
    progress("snapshot", 0, 1)
    snapshot = staging / "snapshot.sqlite3"
    snapshot_database(name=database_name(), target=snapshot)
    progress("hashing", 0, 1)
    parent_manifest, parent_hashes = _parent_state(store, parent, signing_key) if parent else (None, None)
    database, members = _database_members(staging, snapshot, parent_manifest, parent_hashes, created)
    files = _media_entries(Path(settings.MEDIA_ROOT), backup_id, parent_manifest)
    members += [_media_member(f) for f in files if f["stored_in"] == backup_id]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "id": backup_id,
        "kind": INCREMENTAL if parent else FULL,
        "parent": parent.id if parent else None,
        "created": created.isoformat(),
        "app_version": settings.VERSION,
        "note": note,
        "migrations": applied_migrations(snapshot),
        "database": database,
        "files": files,
        "members": {m.name: {"size": m.size, "sha256": m.sha256} for m in members},
    }
    compression = settings.BACKUP_COMPRESSION
    archive = f"{backup_id}{SUFFIXES[compression]}{'.enc' if key else ''}"
    total = sum(m.size for m in members)
    size, sha, manifest_sha = write_archive(
        target=staging / archive,
        compression=compression,
        key=key,
        manifest=manifest,
        members=members,
        progress=lambda done: progress("archiving", done, total),
    )
    progress("checking", 0, 1)
    if file_sha256(staging / archive) != sha:
        raise BackupError(f"backup {backup_id}: the archive on disk differs from what was written")
    summary = Summary(
        id=backup_id,
        kind=manifest["kind"],
        parent=manifest["parent"],
        parent_archive_sha256=parent.archive_sha256 if parent else None,
        created=manifest["created"],
        app_version=settings.VERSION,
        note=note,
        compression=compression,
        encrypted=key is not None,
        key_id=key_id(key).hex() if key else None,
        archive=archive,
        size=size,
        archive_sha256=sha,
        manifest_sha256=manifest_sha,
        file_count=len(files),
        database_size=database["size"],
    )
    if signing_key is not None:
        summary = replace(summary, mac=sidecar_mac(signing_key, summary.signed_body()))
    store.commit(staging / archive, archive)
    store.write_bytes(summary.sidecar, summary.to_json())  # last: only now is the backup listed
    logger.info("backup %s created (%s, %d bytes)", backup_id, summary.kind, size)
    return summary


def _database_members(
    staging: Path,
    snapshot: Path,
    parent_manifest: dict[str, Any] | None,
    parent_hashes: bytes | None,
    created: datetime,
) -> tuple[dict[str, Any], list[Member]]:
    """The page hashes, then the whole snapshot (full) or the pages changed since the parent."""
    page_size = page_size_of(snapshot)
    hashes, db_sha = hash_pages(snapshot, page_size)
    size = snapshot.stat().st_size
    database = {"page_size": page_size, "page_count": len(hashes) // 32, "size": size, "sha256": db_sha}
    members = [member_from_bytes(PAGE_HASHES, hashes)]
    if parent_manifest is None or parent_hashes is None:
        members.append(member_from_file(DATABASE, snapshot, db_sha, created.timestamp()))
        return database, members
    same_layout = parent_manifest["database"]["page_size"] == page_size
    pages = list(changed_pages(hashes, parent_hashes if same_layout else b""))
    pages_file = staging / "pages.bin"
    write_changed_pages(snapshot=snapshot, page_size=page_size, pages=pages, target=pages_file)
    members.append(member_from_file(PAGES, pages_file, file_sha256(pages_file)))
    database["changed_pages"] = len(pages)
    return database, members


def _media_member(entry: dict[str, Any]) -> Member:
    return Member(
        name=MEDIA_PREFIX + entry["path"],
        source=Path(settings.MEDIA_ROOT) / entry["path"],
        size=entry["size"],
        sha256=entry["sha256"],
        mtime=entry["mtime"],
    )


def _parent_state(store: BackupStore, parent: Summary, key: bytes | None) -> tuple[dict[str, Any], bytes]:
    captured: dict[str, bytes] = {}

    def keep_hashes(manifest: dict[str, Any], stream: MemberStream) -> None:
        if stream.name == PAGE_HASHES:
            captured["hashes"] = stream.read()

    manifest = read_archive(store=store, summary=parent, key=key, handler=keep_hashes, manifest_only=True)
    if "hashes" not in captured:
        raise BackupError(f"backup {parent.id}: its page hashes are missing")
    return manifest, captured["hashes"]


def _media_entries(
    root: Path, backup_id: str, parent_manifest: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Every file under MEDIA_ROOT; one unchanged since the parent points at the archive holding it."""
    previous = {f["path"]: f for f in parent_manifest["files"]} if parent_manifest else {}
    entries = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        stat = path.stat()
        sha = file_sha256(path)
        old = previous.get(relative)
        unchanged = old is not None and old["sha256"] == sha and old["size"] == stat.st_size
        stored_in = old["stored_in"] if old and unchanged else backup_id
        entries.append(
            {
                "path": relative,
                "size": stat.st_size,
                "mtime": stat.st_mtime,
                "sha256": sha,
                "stored_in": stored_in,
            }
        )
    return entries


@dataclass
class VerifyOutcome:
    backup_id: str
    ok: bool
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.backup_id, "ok": self.ok, "problem": self.problem}


def backup_verify(
    *,
    backup_id: str | None = None,
    all_backups: bool = False,
    allow_unauthenticated: bool = False,
    progress: Progress | None = None,
) -> list[VerifyOutcome]:
    """Checks sidecars, archives, chains and a test restore with SQLite's integrity check.

    With a backup key configured, a backup must also be authenticated with it (see
    `chain_authenticate`); `allow_unauthenticated` accepts unencrypted, unsigned ones.
    Never raises for a damaged or forged backup: each outcome names what is wrong.
    """
    store = backup_store()
    listings = backup_list(store=store)
    if backup_id is None and not all_backups:
        raise BackupError("name a backup id, or pass --all")
    wanted = [item.id for item in listings] if all_backups else [str(backup_id)]
    if backup_id and backup_id not in {item.id for item in listings}:
        raise BackupError(f"no backup {backup_id} in the backup storage")
    outcomes: dict[str, VerifyOutcome] = {
        item.id: VerifyOutcome(item.id, False, item.problem) for item in listings if item.summary is None
    }
    summaries = backup_summaries(store=store)
    key = _optional_key(summaries.values())
    damaged = backup_damaged_ids(listings)
    for target in reversed(wanted):  # newest first: a chain tip's pass covers its ancestors
        if target not in outcomes:
            outcomes.update(
                _verify_chain(store, summaries, damaged, target, key, allow_unauthenticated, progress)
            )
    return [outcomes[i] for i in wanted]


def _optional_key(summaries: Any) -> bytes | None:
    if key_configured():
        return key_from_settings()  # a key set but unreadable is a configuration error: say so
    if any(s.encrypted for s in summaries):
        return None  # the encrypted backups then fail verification, naming the missing key
    return None


def chain_authenticate(
    *, chain: list[Summary], key: bytes | None, allow_unauthenticated: bool = False
) -> None:
    """Raises unless every backup of the chain is vouched for by `key`, before anything is read.

    With no key configured there is nothing to check against (encrypted backups then fail for the
    missing key). With a key, a backup passes if its sidecar's MAC is valid, or if it is encrypted
    with this very key (AES-GCM then authenticates every byte as it is read: the rule for backups
    made before sidecars were signed). A MAC that fails is refused always; an unencrypted backup
    with no MAC only with `allow_unauthenticated` (the operator's explicit word).
    """
    if key is None:
        return
    ours = key_id(key).hex()
    for summary in chain:
        where = f"backup {summary.id}"
        if summary.encrypted and summary.key_id != ours:
            raise WrongKeyError(f"{where}: wrong encryption key, it was encrypted with a different key")
        if summary.mac is not None:
            if not sidecar_mac_valid(key, summary.signed_body(), summary.mac):
                raise UnauthenticatedError(
                    f"{where} fails authentication with the configured key "
                    "(forged, or signed with another key)"
                )
        elif not summary.encrypted and not allow_unauthenticated:
            raise UnauthenticatedError(
                f"{where} is unencrypted and not authenticated with the configured key; "
                "refusing it (pass --allow-unauthenticated only if you know where it came from)"
            )


def _verify_chain(
    store: BackupStore,
    summaries: dict[str, Summary],
    damaged: set[str],
    target: str,
    key: bytes | None,
    allow_unauthenticated: bool,
    progress: Progress | None,
) -> dict[str, VerifyOutcome]:
    try:
        chain = backup_chain(summaries=summaries, backup_id=target, damaged=damaged)
    except BackupError as exc:
        return {target: VerifyOutcome(target, False, str(exc))}
    results: dict[str, VerifyOutcome] = {}
    for index, summary in enumerate(chain):
        try:
            chain_authenticate(chain=[summary], key=key, allow_unauthenticated=allow_unauthenticated)
        except BackupError as exc:
            results[summary.id] = VerifyOutcome(summary.id, False, str(exc))
            for later in chain[index + 1 :]:
                results[later.id] = VerifyOutcome(
                    later.id, False, f"its chain is broken at {summary.id}: {exc}"
                )
            return results

    def on_step(summary: Summary, problem: str | None) -> None:
        text = f"the restored database fails its integrity check: {problem}" if problem else ""
        results[summary.id] = VerifyOutcome(summary.id, problem is None, text)

    try:
        with rebuild_staged(store=store, chain=chain, key=key, progress=progress, on_step=on_step):
            pass  # rebuilding is the check: on_step has recorded each backup's outcome
    except BackupError as exc:
        broken = (
            exc.backup_id
            if isinstance(exc, ChainStepError)
            else next((s.id for s in chain if s.id not in results), target)
        )
        results[broken] = VerifyOutcome(broken, False, str(exc))
        for later in chain[[s.id for s in chain].index(broken) + 1 :]:
            results[later.id] = VerifyOutcome(later.id, False, f"its chain is broken at {broken}: {exc}")
    return results


@dataclass
class RestoreOutcome:
    backup_id: str
    database: str
    media: str
    kept: list[str] = field(default_factory=list)
    migrated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


def backup_restore(
    *,
    backup_id: str,
    target: Path | None = None,
    overwrite: bool = False,
    allow_unauthenticated: bool = False,
    progress: Progress | None = None,
) -> RestoreOutcome:
    """Restores a backup and its chain in place (or under `target`), verifying everything first.

    With a backup key configured, the chain must be authenticated with it (`chain_authenticate`,
    checked before anything is written); `allow_unauthenticated` accepts unencrypted, unsigned ones.
    The current database and media are kept beside the restored ones (`*.pre-restore-<time>`).
    In place, a local database file is only replaced while no process of the app has it open
    (`exclusive_use`): a running Brute would keep the old file and lose its writes.
    """
    store = backup_store()
    listings = backup_list(store=store)
    summaries = {item.id: item.summary for item in listings if item.summary}
    chain = backup_chain(summaries=summaries, backup_id=backup_id, damaged=backup_damaged_ids(listings))
    key = key_from_settings() if key_configured() or any(s.encrypted for s in chain) else None
    chain_authenticate(chain=chain, key=key, allow_unauthenticated=allow_unauthenticated)
    name = database_name()
    if target is None and is_remote(name):
        return _restore_remote(store=store, chain=chain, key=key, overwrite=overwrite, progress=progress)
    if target is not None and target.exists() and not target.is_dir():
        raise BackupError(f"--target {target} is a file, not a directory; name a directory to restore into")
    db_path = Path(name) if target is None else target / "db.sqlite3"
    media_root = Path(settings.MEDIA_ROOT) if target is None else target / "media"
    if not overwrite and (db_path.exists() or (media_root.is_dir() and any(media_root.iterdir()))):
        raise BackupError(f"{db_path} or {media_root} already exists; pass --yes to overwrite")
    for path in (db_path.parent, media_root.parent):
        private_mkdir(path)
    # In place, no other process of the app may have the database open (see backups/inuse.py).
    with exclusive_use(db_path) if target is None else nullcontext():
        with rebuild_staged(
            store=store,
            chain=chain,
            key=key,
            database_beside=db_path.parent,
            media_beside=media_root.parent,
            progress=progress,
        ) as rebuilt:
            outcome = RestoreOutcome(backup_id=backup_id, database=str(db_path), media=str(media_root))
            _place(rebuilt, db_path, media_root, outcome)
        if target is None and is_django_default(name):
            call_command("migrate", interactive=False, verbosity=0)
            outcome.migrated = True
    logger.warning("backup %s restored into %s", backup_id, db_path)
    return outcome


def _restore_remote(
    *, store: BackupStore, chain: list[Summary], key: bytes | None, overwrite: bool, progress: Progress | None
) -> RestoreOutcome:
    """A remote libSQL database is replaced through its connection, in one transaction."""
    if not overwrite:
        raise BackupError("restoring replaces the remote database; pass --yes to overwrite")
    media_root = Path(settings.MEDIA_ROOT)
    private_mkdir(media_root.parent)
    alias = database_alias_for(database_name())
    outcome = RestoreOutcome(backup_id=chain[-1].id, database=database_name(), media=str(media_root))
    with rebuild_staged(
        store=store, chain=chain, key=key, media_beside=media_root.parent, progress=progress
    ) as rebuilt:
        import_through_connection(alias=alias, source=rebuilt.database)
        _place_media(rebuilt.media, media_root, outcome, timezone.now().strftime("%Y%m%dT%H%M%SZ"))
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    outcome.migrated = True
    return outcome


def _place(rebuilt: Rebuilt, db_path: Path, media_root: Path, outcome: RestoreOutcome) -> None:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    saved: Path | None = None
    connections.close_all()
    if db_path.exists():
        saved = db_path.with_name(f"{db_path.name}.pre-restore-{stamp}")
        snapshot_file(source=db_path, target=saved)
        outcome.kept.append(str(saved))
    with rebuilt.database.open("rb") as handle:
        os.fsync(handle.fileno())
    make_private(rebuilt.database)
    os.replace(rebuilt.database, db_path)
    # Stale -wal/-shm files of the replaced database make the new one look malformed.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    problem = integrity_problem(db_path)
    if problem:
        if saved:
            shutil.copyfile(saved, db_path)
        raise BackupError(
            f"the restored database failed its check in place ({problem}); the previous one is back"
        )
    _place_media(rebuilt.media, media_root, outcome, stamp)


def _place_media(staged: Path, media_root: Path, outcome: RestoreOutcome, stamp: str) -> None:
    if media_root.exists():
        kept_media = media_root.with_name(f"{media_root.name}.pre-restore-{stamp}")
        os.replace(media_root, kept_media)
        outcome.kept.append(str(kept_media))
    make_private(staged)
    os.replace(staged, media_root)


@dataclass
class PruneOutcome:
    kept: list[str]
    deleted: list[str]
    partials_removed: int = 0
    restore_leftovers_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


def backup_prune(*, now: datetime | None = None, dry_run: bool = False) -> PruneOutcome:
    """Applies BACKUP_KEEP_*: the last N, plus the newest of each recent day, week and month.

    A kept incremental keeps its whole chain. Unfinished leftovers of crashed runs go too: partial
    archives, and the `.restore-*` staging folders a killed restore leaves beside the database and
    the media folder.
    """
    store = backup_store()
    now = now or timezone.now()
    summaries = backup_summaries(store=store)
    policy = retention.Policy(
        last=settings.BACKUP_KEEP_LAST,
        daily=settings.BACKUP_KEEP_DAILY,
        weekly=settings.BACKUP_KEEP_WEEKLY,
        monthly=settings.BACKUP_KEEP_MONTHLY,
    )
    keep = retention.to_keep(list(summaries.values()), policy)
    doomed = [s for s in summaries.values() if s.id not in keep]
    outcome = PruneOutcome(kept=sorted(keep), deleted=[s.id for s in doomed])
    if dry_run:
        return outcome
    for summary in doomed:
        store.delete(summary.sidecar)  # first, so a half-deleted backup is never listed
        store.delete(summary.archive)
    if isinstance(store, LocalStore):
        outcome.partials_removed = _remove_leftovers(store, summaries, now)
    outcome.restore_leftovers_removed = _remove_restore_leftovers(now)
    return outcome


def _remove_restore_leftovers(now: datetime) -> int:
    """`.restore-*` folders older than an hour (a restore may be running) beside the targets."""
    name = database_name()
    places = {Path(settings.MEDIA_ROOT).parent} | (set() if is_remote(name) else {Path(name).parent})
    cutoff = now.timestamp() - 3600
    removed = 0
    for place in places:
        for path in place.glob(".restore-*") if place.is_dir() else []:
            if path.is_dir() and not path.is_symlink() and path.stat().st_mtime <= cutoff:
                remove_tree(path)
                removed += 1
    return removed


def _remove_leftovers(store: LocalStore, summaries: dict[str, Summary], now: datetime) -> int:
    """Partial files and archives without a sidecar, older than an hour (a run may be in progress)."""
    archives = {s.archive for s in summaries.values()} | {s.sidecar for s in summaries.values()}
    cutoff = now.timestamp() - 3600
    removed = 0
    for path in store.stale_partials() + [store.root / n for n in store.names() if n not in archives]:
        if path.name.endswith(".json") or path.stat().st_mtime > cutoff:
            continue
        store.remove_partial(path)
        removed += 1
    return removed


# --- Runs: the same actions, recorded in a BackupRun row for the operator page and for Celery.


def backup_run_request(
    *,
    action: str = BackupRun.Action.CREATE,
    incremental: bool = False,
    encrypt: bool | None = None,
    note: str = "",
    user: Any = None,
) -> BackupRun:
    """Records a queued run (a backup, or a verification of all) for a Celery worker, after commit."""
    if action not in (BackupRun.Action.CREATE, BackupRun.Action.VERIFY):
        raise BackupError(f"an operator cannot start a {action} run from here")
    with transaction.atomic():
        run = BackupRun.objects.create(
            action=action,
            incremental=incremental,
            encrypt=encrypt,
            note=note,
            requested_by=user,
        )
        transaction.on_commit(lambda: task_queue("backups.run", run.pk))
    return run


def backup_run_execute(*, run_id: int, full_if_no_parent: bool = False) -> BackupRun:
    """Runs a queued BackupRun once (a redelivered task finds it claimed and does nothing). With
    `full_if_no_parent`, an incremental with nothing to build on becomes a full backup, and the run
    records it: `incremental` off, the reason in `result["note"]`."""
    claimed = BackupRun.objects.filter(pk=run_id, status=BackupRun.Status.QUEUED).update(
        status=BackupRun.Status.RUNNING, started_at=timezone.now()
    )
    run = BackupRun.objects.get(pk=run_id)
    if not claimed:
        return run
    progress = _RunProgress(run_id)
    try:
        if run.action == BackupRun.Action.CREATE:
            summary = backup_create(
                incremental=run.incremental,
                encrypt=run.encrypt,
                note=run.note,
                progress=progress,
                full_if_no_parent=full_if_no_parent,
            )
            result: dict[str, Any] = {"size": summary.size, "kind": summary.kind}
            if run.incremental and summary.kind == FULL:
                result["note"] = NO_PARENT_NOTE
                BackupRun.objects.filter(pk=run_id).update(incremental=False)
            _finish(run_id, backup_id=summary.id, result=result)
        elif run.action == BackupRun.Action.VERIFY:
            outcomes = backup_verify(all_backups=True, progress=progress)
            _finish_verify(run_id, outcomes)
        else:
            pruned = backup_prune()
            _finish(run_id, result=pruned.as_dict())
    except BackupError as exc:
        BackupRun.objects.filter(pk=run_id).update(
            status=BackupRun.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        operator_notify(subject=f"Backup {run.action} failed", message=str(exc))
    return BackupRun.objects.get(pk=run_id)


def backup_run_now(*, action: str, incremental: bool = False) -> BackupRun:
    """A run started by the scheduler: recorded, then executed in the calling worker. A scheduled
    incremental before any backup exists (a fresh install, or after the full ones were pruned or
    damaged) takes a full backup instead of failing every hour until the nightly full one."""
    run = BackupRun.objects.create(action=action, incremental=incremental)
    return backup_run_execute(run_id=run.pk, full_if_no_parent=True)


def backup_verify_recorded(
    *,
    backup_id: str | None = None,
    all_backups: bool = False,
    allow_unauthenticated: bool = False,
    progress: Progress | None = None,
    note: str = "from the command line",
) -> list[VerifyOutcome]:
    """`backup_verify`, recorded as a verify run like the ones the page and the scheduler start, so
    the page's "Verified" column knows of it (the operator who ran it has seen the outcome: no mail)."""
    try:
        run = BackupRun.objects.create(
            action=BackupRun.Action.VERIFY,
            status=BackupRun.Status.RUNNING,
            started_at=timezone.now(),
            note=note,
        )
    except DatabaseError as exc:  # a fresh host checking its backups before restoring one
        logger.warning("backups: this verification is not recorded, the database refused it (%s)", exc)
        return backup_verify(
            backup_id=backup_id,
            all_backups=all_backups,
            allow_unauthenticated=allow_unauthenticated,
            progress=progress,
        )
    try:
        outcomes = backup_verify(
            backup_id=backup_id,
            all_backups=all_backups,
            allow_unauthenticated=allow_unauthenticated,
            progress=progress,
        )
    except BackupError as exc:
        BackupRun.objects.filter(pk=run.pk).update(
            status=BackupRun.Status.FAILED, error=str(exc), finished_at=timezone.now()
        )
        raise
    _finish_verify(run.pk, outcomes, notify=False)
    return outcomes


def _finish(run_id: int, *, backup_id: str = "", result: dict[str, Any]) -> None:
    BackupRun.objects.filter(pk=run_id).update(
        status=BackupRun.Status.SUCCEEDED, backup_id=backup_id, result=result, finished_at=timezone.now()
    )


def _finish_verify(run_id: int, outcomes: list[VerifyOutcome], *, notify: bool = True) -> None:
    result = {"backups": {o.backup_id: {"ok": o.ok, "problem": o.problem} for o in outcomes}}
    failed = [o for o in outcomes if not o.ok]
    status = BackupRun.Status.FAILED if failed else BackupRun.Status.SUCCEEDED
    error = "; ".join(f"{o.backup_id}: {o.problem}" for o in failed)
    BackupRun.objects.filter(pk=run_id).update(
        status=status, result=result, error=error, finished_at=timezone.now()
    )
    if failed and notify:
        operator_notify(subject=f"{len(failed)} backups failed verification", message=error)


class _RunProgress:
    """Writes progress to the run's row at most twice a second."""

    def __init__(self, run_id: int) -> None:
        self._run_id = run_id
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.5 and done < total:
            return
        self._last = now
        BackupRun.objects.filter(pk=self._run_id).update(phase=phase[:40], done=done, total=total)
