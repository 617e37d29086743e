"""Where archives live: BACKUP_DIR on the local disk, or any Django storage (S3 via django-storages).

An archive is written under a temporary name and only renamed (or uploaded) once it is complete and
checked, and its sidecar goes last; listing reads sidecars only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from backups.errors import BackupError
from backups.files import private_create, private_mkdir

TEMP_PREFIX = ".partial-"


class BackupStore(Protocol):
    def names(self) -> list[str]: ...
    def open(self, name: str) -> BinaryIO: ...
    def exists(self, name: str) -> bool: ...
    def size(self, name: str) -> int: ...
    def staging_dir(self) -> Path: ...
    def commit(self, local: Path, name: str) -> None: ...
    def write_bytes(self, name: str, data: bytes) -> None: ...
    def delete(self, name: str) -> None: ...
    def local_path(self, name: str) -> Path | None: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if "/" in name or name.startswith("."):
            raise BackupError(f"bad archive name {name!r}")
        return self.root / name

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def open(self, name: str) -> BinaryIO:
        try:
            return self._path(name).open("rb")
        except FileNotFoundError:
            raise BackupError(f"{name} is missing from {self.root}") from None

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def staging_dir(self) -> Path:
        # Staging beside the archives keeps the final rename atomic (same filesystem).
        private_mkdir(self.root)
        return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))

    def commit(self, local: Path, name: str) -> None:
        local.chmod(0o600)  # an archive holds password hashes and encrypted API keys
        with local.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(local, self._path(name))
        _fsync_dir(self.root)

    def write_bytes(self, name: str, data: bytes) -> None:
        target = self._path(name)
        partial = self.root / f"{TEMP_PREFIX}{name}"
        with private_create(partial) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        _fsync_dir(self.root)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def local_path(self, name: str) -> Path | None:
        return self._path(name)

    def stale_partials(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if p.name.startswith(TEMP_PREFIX)]

    def remove_partial(self, path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class DjangoStore:
    """Any Django storage backend; archives are staged in a local temp dir and uploaded whole."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def names(self) -> list[str]:
        try:
            _dirs, files = self.storage.listdir("")
        except FileNotFoundError:
            return []
        return sorted(files)

    def open(self, name: str) -> BinaryIO:
        try:
            return self.storage.open(name, "rb")  # type: ignore[return-value]
        except FileNotFoundError:
            raise BackupError(f"{name} is missing from the backup storage") from None

    def exists(self, name: str) -> bool:
        return self.storage.exists(name)

    def size(self, name: str) -> int:
        return self.storage.size(name)

    def staging_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))

    def commit(self, local: Path, name: str) -> None:
        with local.open("rb") as handle:
            saved = self.storage.save(name, File(handle, name=name))
        local.unlink()
        if saved != name:
            raise BackupError(f"the storage renamed {name} to {saved}; refusing an ambiguous archive")

    def write_bytes(self, name: str, data: bytes) -> None:
        if self.storage.exists(name):
            self.storage.delete(name)
        self.storage.save(name, ContentFile(data, name=name))

    def delete(self, name: str) -> None:
        self.storage.delete(name)

    def local_path(self, name: str) -> Path | None:
        return None


def backup_store() -> LocalStore | DjangoStore:
    """BACKUP_STORAGE may name an alias in STORAGES or a storage class path; else BACKUP_DIR."""
    configured = settings.BACKUP_STORAGE
    if not configured:
        return LocalStore(Path(settings.BACKUP_DIR))
    if configured in settings.STORAGES:
        return DjangoStore(storages[configured])
    try:
        storage_class = import_string(configured)
    except ImportError as exc:
        raise BackupError(f"BACKUP_STORAGE {configured!r} cannot be imported: {exc}") from exc
    return DjangoStore(storage_class())
