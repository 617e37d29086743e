"""Rebuilding a backup's database and files from its chain, checking every step on the way.

Used by both verify (into a temporary place) and restore (into a staging place beside the target).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from backups.archive import DATABASE, MEDIA_PREFIX, PAGES, MemberStream, read_archive
from backups.errors import BackupError, ChainStepError
from backups.files import private_create, private_mkdir
from backups.manifest import Summary
from backups.snapshot import apply_pages, integrity_problem
from backups.storage import BackupStore
from backups.streams import BLOCK

Progress = Callable[[str, int, int], None]
StepCheck = Callable[[Summary, str | None], None]


@dataclass(frozen=True)
class Rebuilt:
    database: Path
    media: Path
    manifest: dict[str, Any]


def safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"refusing the unsafe file path {path!r} in the archive")
    return relative


def rebuild(
    *,
    store: BackupStore,
    chain: list[Summary],
    key: bytes | None,
    database: Path,
    media: Path,
    progress: Progress | None = None,
    on_step: StepCheck | None = None,
) -> Rebuilt:
    """Applies the chain (full backup first) into `database` and `media`, checking as it goes.

    After each backup the rebuilt database must hash to that backup's snapshot; `on_step` hears of
    each step (with an integrity problem or None) so verify --all can test every backup in one pass.
    """
    try:
        final = read_archive(store=store, summary=chain[-1], key=key, manifest_only=True)
    except BackupError as exc:
        raise ChainStepError(chain[-1].id, str(exc)) from None
    wanted = {entry["path"]: entry for entry in final["files"]}
    private_mkdir(media)
    for step, summary in enumerate(chain):
        handler = _Handler(summary, database, media, wanted)
        report = (lambda done, s=summary: progress(f"reading {s.id}", done, s.size)) if progress else None
        try:
            manifest = read_archive(store=store, summary=summary, key=key, handler=handler, progress=report)
            _check_database(summary, manifest, database)
        except ChainStepError:
            raise
        except BackupError as exc:
            raise ChainStepError(summary.id, str(exc)) from None
        is_last = step == len(chain) - 1
        if on_step or is_last:
            problem = integrity_problem(database)
            if on_step:
                on_step(summary, problem)
            if problem and is_last:
                raise BackupError(
                    f"backup {summary.id}: the restored database fails its integrity check: {problem}"
                )
    _check_media(chain[-1], wanted, media)
    return Rebuilt(database=database, media=media, manifest=final)


@contextmanager
def rebuild_staged(
    *,
    store: BackupStore,
    chain: list[Summary],
    key: bytes | None,
    database_beside: Path | None = None,
    media_beside: Path | None = None,
    progress: Progress | None = None,
    on_step: StepCheck | None = None,
) -> Iterator[Rebuilt]:
    """`rebuild` into two fresh staging folders, removed with whatever is left in them on leaving.

    Each folder is made inside `database_beside` / `media_beside` (the system's temporary folder when
    None): beside its destination, a restore moves the result into place with a rename on one
    filesystem, and a `.restore-*` folder a killed restore leaves there is swept by backup_prune.
    """
    stages: list[Path] = []
    try:
        for beside in (database_beside, media_beside):
            prefix = ".restore-" if beside else "brute-rebuild-"
            stages.append(Path(tempfile.mkdtemp(prefix=prefix, dir=beside)))
        yield rebuild(
            store=store,
            chain=chain,
            key=key,
            database=stages[0] / "db.sqlite3",
            media=stages[1] / "media",
            progress=progress,
            on_step=on_step,
        )
    finally:
        for stage in stages:
            remove_tree(stage)


class _Handler:
    def __init__(self, summary: Summary, database: Path, media: Path, wanted: dict[str, Any]) -> None:
        self.summary = summary
        self.database = database
        self.media = media
        self.wanted = wanted

    def __call__(self, manifest: dict[str, Any], stream: MemberStream) -> None:
        if stream.name == DATABASE:
            _copy(stream, self.database)
        elif stream.name == PAGES:
            if not self.database.exists():
                raise BackupError("an incremental's pages came before any full database")
            db = manifest["database"]
            apply_pages(
                pages=stream, page_size=db["page_size"], page_count=db["page_count"], target=self.database
            )
        elif stream.name.startswith(MEDIA_PREFIX):
            relative = safe_relative(stream.name.removeprefix(MEDIA_PREFIX))
            entry = self.wanted.get(str(relative))
            if entry and entry["stored_in"] == self.summary.id:
                target = self.media / relative
                private_mkdir(target.parent)
                _copy(stream, target)
                os.utime(target, (entry["mtime"], entry["mtime"]))


def _copy(stream: MemberStream, target: Path) -> None:
    with private_create(target) as out:
        while block := stream.read(BLOCK):
            out.write(block)


def _check_database(summary: Summary, manifest: dict[str, Any], database: Path) -> None:
    db = manifest["database"]
    if not database.exists():
        raise BackupError(f"backup {summary.id}: the archive holds no database")
    if file_sha256(database) != db["sha256"]:
        raise BackupError(f"backup {summary.id}: the rebuilt database differs from the snapshot (SHA-256)")


def _check_media(summary: Summary, wanted: dict[str, Any], media: Path) -> None:
    for path, entry in wanted.items():
        target = media / safe_relative(path)
        if not target.is_file():
            raise BackupError(
                f"backup {summary.id}: media/{path} could not be restored (held by {entry['stored_in']})"
            )
        if file_sha256(target) != entry["sha256"]:
            raise BackupError(f"backup {summary.id}: media/{path} fails its SHA-256 after restore")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
