"""What a backup says about itself.

Two documents per backup. The inner manifest (`manifest.json`, the first member of the archive)
lists the database snapshot, every file and every member with its size and SHA-256. The sidecar
(`<id>.json` beside the archive) is the summary a listing needs without the key: id, kind, parent,
the archive's own size and SHA-256, the inner manifest's SHA-256, and a checksum of itself. The
checksum only finds damage; with a backup key configured the sidecar also carries `mac`, an HMAC
keyed from that key over the same fields (see backups.crypto), which finds forgery. The sidecar is
written last, so an archive without one was never finished and is never listed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from backups.errors import BackupError

FORMAT = 1
FULL = "full"
INCREMENTAL = "incremental"
ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
SIDECAR_SUFFIX = ".json"


def new_backup_id(created: datetime) -> str:
    return f"{created.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Summary:
    id: str
    kind: str
    parent: str | None
    parent_archive_sha256: str | None
    created: str
    app_version: str
    note: str
    compression: str
    encrypted: bool
    key_id: str | None
    archive: str
    size: int
    archive_sha256: str
    manifest_sha256: str
    file_count: int
    database_size: int
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    mac: str | None = None

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)

    @property
    def sidecar(self) -> str:
        return sidecar_name(self.id)

    def signed_body(self) -> bytes:
        """The canonical bytes the MAC covers: every field but the MAC itself."""
        body = asdict(self)
        body.pop("mac")
        return canonical(body)

    def to_json(self) -> bytes:
        body = asdict(self)
        body["checksum"] = hashlib.sha256(canonical(body)).hexdigest()
        return json.dumps(body, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes, *, name: str) -> Summary:
        try:
            body = json.loads(raw)
            checksum = body.pop("checksum")
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise BackupError(f"{name}: the sidecar manifest is not valid JSON") from exc
        if hashlib.sha256(canonical(body)).hexdigest() != checksum:
            raise BackupError(f"{name}: the sidecar manifest fails its checksum (edited or damaged)")
        known = {f.name for f in fields(cls)}
        try:
            summary = cls(**{k: v for k, v in body.items() if k in known})
        except TypeError as exc:
            raise BackupError(f"{name}: the sidecar manifest lacks a field ({exc})") from exc
        if summary.format != FORMAT:
            raise BackupError(f"{name}: unsupported backup format {summary.format}")
        if not ID_PATTERN.match(summary.id) or sidecar_name(summary.id) != name:
            raise BackupError(f"{name}: the sidecar names another backup ({summary.id})")
        return summary


def sidecar_name(backup_id: str) -> str:
    return f"{backup_id}{SIDECAR_SUFFIX}"


def id_from_sidecar(name: str) -> str | None:
    stem = name.removesuffix(SIDECAR_SUFFIX)
    return stem if name.endswith(SIDECAR_SUFFIX) and ID_PATTERN.match(stem) else None


def parse_manifest(raw: bytes, *, backup_id: str) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise BackupError(f"backup {backup_id}: manifest.json is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("id") != backup_id:
        raise BackupError(f"backup {backup_id}: manifest.json belongs to another backup")
    return manifest
