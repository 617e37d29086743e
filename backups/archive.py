"""Writing and reading archives: a tar stream, compressed, optionally encrypted, hashed in one pass.

Members, in order: `manifest.json`, then the database (`db/pagehashes.bin` and either
`db/database.sqlite3` or `db/pages.bin`), then `media/<path>`. The manifest comes first so an
incremental can read its parent's manifest and page hashes without reading the whole parent.
Every member's SHA-256 is known before writing and checked again on every read.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backups.crypto import DecryptingReader, EncryptingWriter
from backups.errors import BackupError
from backups.files import private_create
from backups.manifest import Summary, parse_manifest
from backups.storage import BackupStore
from backups.streams import (
    BLOCK,
    HashingReader,
    HashingWriter,
    Readable,
    compressing_writer,
    decompressing_reader,
)

MANIFEST = "manifest.json"
PAGE_HASHES = "db/pagehashes.bin"
DATABASE = "db/database.sqlite3"
PAGES = "db/pages.bin"
MEDIA_PREFIX = "media/"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Member:
    name: str
    source: Path | bytes
    size: int
    sha256: str
    mtime: float = 0.0


def member_from_file(name: str, path: Path, sha256: str, mtime: float = 0.0) -> Member:
    return Member(name=name, source=path, size=path.stat().st_size, sha256=sha256, mtime=mtime)


def member_from_bytes(name: str, data: bytes) -> Member:
    return Member(name=name, source=data, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=1, sort_keys=True).encode()


class _Chain:
    """Adapts the compressor for tarfile, counting the uncompressed bytes for progress.

    tarfile gets it in plain "w" mode, not the stream mode "w|": the stream mode re-slices its
    buffer on every 10 KB record, which is quadratic in the size of each write.
    """

    def __init__(self, writer: Any, progress: Progress | None) -> None:
        self._writer = writer
        self._progress = progress
        self.size = 0

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        self.size += len(data)
        if self._progress:
            self._progress(self.size)
        return len(data)

    def tell(self) -> int:
        return self.size


def write_archive(
    *,
    target: Path,
    compression: str,
    key: bytes | None,
    manifest: dict[str, Any],
    members: list[Member],
    progress: Progress | None = None,
) -> tuple[int, str, str]:
    """Writes the archive; returns its size, its SHA-256 and the manifest's SHA-256."""
    head = manifest_bytes(manifest)
    with private_create(target) as raw:
        hashed = HashingWriter(raw)
        encryptor = EncryptingWriter(hashed, key) if key else None
        compressor = compressing_writer(compression, encryptor or hashed)
        chain = _Chain(compressor, progress)
        with tarfile.open(fileobj=chain, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            tar.copybufsize = BLOCK
            _add(tar, member_from_bytes(MANIFEST, head))
            for member in members:
                _add(tar, member)
        compressor.close()
        if encryptor:
            encryptor.close()
        raw.flush()
    return hashed.size, hashed.sha256.hexdigest(), hashlib.sha256(head).hexdigest()


class _CheckedFile:
    def __init__(self, handle: Readable, member: Member) -> None:
        self._handle = handle
        self._member = member
        self._sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._sha.update(data)
        return data

    def check(self) -> None:
        if self._sha.hexdigest() != self._member.sha256:
            raise BackupError(f"{self._member.name} changed while it was being archived; try again")


def _add(tar: tarfile.TarFile, member: Member) -> None:
    info = tarfile.TarInfo(member.name)
    info.size = member.size
    info.mtime = int(member.mtime)
    info.mode = 0o600
    if isinstance(member.source, bytes):
        tar.addfile(info, _BytesReader(member.source))
        return
    with member.source.open("rb") as handle:
        checked = _CheckedFile(handle, member)
        tar.addfile(info, checked)
        checked.check()


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._offset + size
        piece = bytes(self._view[self._offset : end])
        self._offset += len(piece)
        return piece


class MemberStream:
    """A member's bytes as read from the archive, hashed on the way for the check afterwards."""

    def __init__(self, name: str, handle: Readable) -> None:
        self.name = name
        self._handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(BLOCK):
            pass


Handler = Callable[[dict[str, Any], MemberStream], None]


def read_archive(
    *,
    store: BackupStore,
    summary: Summary,
    key: bytes | None,
    handler: Handler | None = None,
    progress: Progress | None = None,
    manifest_only: bool = False,
) -> dict[str, Any]:
    """Reads and checks every byte of an archive; `handler` sees each member after the manifest.

    Raises BackupError naming the first part found damaged. With `manifest_only`, stops after
    the manifest and `db/pagehashes.bin` (handed to the handler), for an incremental's parent.
    """
    where = f"backup {summary.id}"
    if summary.encrypted and key is None:
        raise BackupError(f"{where} is encrypted: set BACKUP_ENCRYPTION_KEY or BACKUP_ENCRYPTION_KEY_FILE")
    with store.open(summary.archive) as raw:
        hashed = HashingReader(raw, progress)
        try:
            source: Readable = DecryptingReader(hashed, key) if summary.encrypted and key else hashed
            plain = decompressing_reader(summary.compression, source)
            manifest = _read_members(plain, summary, handler, manifest_only)
            if manifest_only:
                return manifest
            while plain.read(BLOCK):
                pass
            hashed.drain()
        except BackupError as exc:
            raise BackupError(f"{where}: {exc}") from None
        except tarfile.TarError as exc:
            raise BackupError(f"{where}: the tar structure is damaged ({exc})") from None
    if hashed.size != summary.size or hashed.sha256.hexdigest() != summary.archive_sha256:
        raise BackupError(
            f"{where}: the archive's bytes differ from its recorded SHA-256 "
            f"({hashed.size} bytes read, {summary.size} recorded)"
        )
    return manifest


def _read_members(
    plain: Readable, summary: Summary, handler: Handler | None, manifest_only: bool
) -> dict[str, Any]:
    # Not a context manager: closing the TarFile early is harmless, the source is drained after.
    tar = tarfile.open(fileobj=plain, mode="r|")  # type: ignore[call-overload]  # noqa: SIM115
    first = tar.next()
    if first is None or first.name != MANIFEST:
        raise BackupError("manifest.json is missing from the start of the archive")
    handle = tar.extractfile(first)
    assert handle is not None
    head = handle.read()
    if hashlib.sha256(head).hexdigest() != summary.manifest_sha256:
        raise BackupError("manifest.json fails its SHA-256 (damaged or replaced)")
    manifest = parse_manifest(head, backup_id=summary.id)
    _check_manifest_matches(manifest, summary)
    expected: dict[str, dict[str, Any]] = manifest["members"]
    seen: set[str] = set()
    while (info := tar.next()) is not None:
        spec = expected.get(info.name)
        if spec is None or info.name in seen:
            raise BackupError(f"unexpected member {info.name!r} in the archive")
        seen.add(info.name)
        handle = tar.extractfile(info)
        if handle is None:
            raise BackupError(f"member {info.name} is not a regular file")
        stream = MemberStream(info.name, handle)
        if handler:
            handler(manifest, stream)
        stream.drain()
        if stream.size != spec["size"] or stream.sha256.hexdigest() != spec["sha256"]:
            raise BackupError(f"{info.name} fails its SHA-256 (damaged)")
        if manifest_only and info.name == PAGE_HASHES:
            return manifest
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"{missing[0]} is missing from the archive ({len(missing)} members missing)")
    return manifest


def _check_manifest_matches(manifest: dict[str, Any], summary: Summary) -> None:
    pairs = {"kind": summary.kind, "parent": summary.parent, "created": summary.created}
    for field_name, value in pairs.items():
        if manifest.get(field_name) != value:
            raise BackupError(f"manifest.json and the sidecar disagree on {field_name}")
    if len(manifest.get("files", [])) != summary.file_count:
        raise BackupError("manifest.json and the sidecar disagree on the file count")
