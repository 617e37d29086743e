"""Streaming authenticated encryption for archives: AES-256-GCM in fixed-size chunks.

Layout: a 20-byte header (magic, key id, chunk size), then chunks of `nonce || ciphertext+tag`.
Each chunk's associated data is the header, its index and a final flag, so a chunk that is
altered, dropped, reordered, or a stream cut at a chunk boundary fails authentication.
The key id (a hash of the key) tells a wrong key from a damaged archive before any chunk is read.

The sidecar of every backup made while a key is configured also carries an HMAC-SHA256 keyed from
that key (HKDF, its own label, so the MAC key is never the encryption key). The sidecar holds the
archive's SHA-256 and the inner manifest's, which holds every member's, so the one MAC vouches for
every byte, encrypted or not, as restic and borg authenticate their indexes with the repository key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from backups.errors import BackupError, WrongKeyError

MAGIC = b"BRUTEAE1"
HEADER = struct.Struct(">8s8sI")
CHUNK_SIZE = 1 << 20
NONCE_SIZE = 12
TAG_SIZE = 16


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


KEYS_DIFFER = (
    "BACKUP_ENCRYPTION_KEY and BACKUP_ENCRYPTION_KEY_FILE are both set, to different keys: set only one"
)


def key_settings_problem() -> str | None:
    """Why the backup key settings cannot be used, or None: both set to different keys (which one
    would sign and decrypt is a guess), or a key file that cannot be read to compare."""
    if not (settings.BACKUP_ENCRYPTION_KEY and settings.BACKUP_ENCRYPTION_KEY_FILE):
        return None
    try:
        from_file = Path(settings.BACKUP_ENCRYPTION_KEY_FILE).read_text().strip()
    except OSError as exc:
        return (
            f"cannot read BACKUP_ENCRYPTION_KEY_FILE ({settings.BACKUP_ENCRYPTION_KEY_FILE}): {exc.strerror}"
        )
    return None if from_file == settings.BACKUP_ENCRYPTION_KEY.strip() else KEYS_DIFFER


def key_from_settings() -> bytes:
    """The 32-byte key from BACKUP_ENCRYPTION_KEY, or else the file BACKUP_ENCRYPTION_KEY_FILE."""
    problem = key_settings_problem()
    if problem:
        raise BackupError(problem)
    raw = settings.BACKUP_ENCRYPTION_KEY
    source = "BACKUP_ENCRYPTION_KEY"
    if not raw and settings.BACKUP_ENCRYPTION_KEY_FILE:
        source = f"BACKUP_ENCRYPTION_KEY_FILE ({settings.BACKUP_ENCRYPTION_KEY_FILE})"
        try:
            raw = Path(settings.BACKUP_ENCRYPTION_KEY_FILE).read_text().strip()
        except OSError as exc:
            raise BackupError(f"cannot read {source}: {exc.strerror}") from exc
    if not raw:
        raise BackupError("encryption needs a key: set BACKUP_ENCRYPTION_KEY or BACKUP_ENCRYPTION_KEY_FILE")
    return decode_key(raw, source=source)


def key_configured() -> bool:
    """Whether the operator set a backup key (valid or not: key_from_settings says which)."""
    return bool(settings.BACKUP_ENCRYPTION_KEY or settings.BACKUP_ENCRYPTION_KEY_FILE)


def decode_key(raw: str, *, source: str = "key") -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BackupError(f"{source} is not valid base64") from exc
    if len(key) != 32:
        raise BackupError(f"{source} must decode to 32 bytes, not {len(key)}")
    return key


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"brute-backup-key-id\0" + key).digest()[:8]


def _mac_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"brute-backup-sidecar-mac-v1").derive(
        key
    )


def sidecar_mac(key: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of a sidecar's canonical body, keyed from the backup key."""
    return hmac.new(_mac_key(key), body, hashlib.sha256).hexdigest()


def sidecar_mac_valid(key: bytes, body: bytes, mac: str) -> bool:
    return hmac.compare_digest(sidecar_mac(key, body), mac)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, final)


class EncryptingWriter:
    """A write-only stream that encrypts into `sink`; `close()` writes the final chunk."""

    def __init__(self, sink: _Sink, key: bytes, chunk_size: int = CHUNK_SIZE) -> None:
        self._sink = sink
        self._aes = AESGCM(key)
        self._chunk_size = chunk_size
        self._header = HEADER.pack(MAGIC, key_id(key), chunk_size)
        self._buffer = bytearray()
        self._index = 0
        sink.write(self._header)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._buffer += data
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return len(data)

    def _emit(self, plain: bytes, *, final: bool) -> None:
        nonce = os.urandom(NONCE_SIZE)
        self._sink.write(nonce + self._aes.encrypt(nonce, plain, _aad(self._header, self._index, final)))
        self._index += 1

    def close(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()


class DecryptingReader:
    """A read-only stream over an encrypted archive; raises BackupError naming the bad chunk."""

    def __init__(self, source: _Source, key: bytes) -> None:
        self._source = source
        header = source.read(HEADER.size)
        if len(header) < HEADER.size:
            raise BackupError("encryption header is truncated")
        magic, stored_key_id, chunk_size = HEADER.unpack(header)
        if magic != MAGIC:
            raise BackupError("encryption header is damaged (bad magic)")
        if stored_key_id != key_id(key):
            raise WrongKeyError("wrong encryption key: this archive was encrypted with a different key")
        if not 0 < chunk_size <= 64 << 20:
            raise BackupError("encryption header is damaged (bad chunk size)")
        self._aes = AESGCM(key)
        self._header = header
        self._record = NONCE_SIZE + chunk_size + TAG_SIZE
        self._index = 0
        self._pending = source.read(self._record)
        self._plain = b""
        self._offset = 0
        self._done = False

    def _next_chunk(self) -> None:
        record = self._pending
        self._pending = self._source.read(self._record)
        final = not self._pending
        if len(record) < NONCE_SIZE + TAG_SIZE:
            raise BackupError(f"encrypted stream is truncated at chunk {self._index}")
        try:
            self._plain = self._aes.decrypt(
                record[:NONCE_SIZE], record[NONCE_SIZE:], _aad(self._header, self._index, final)
            )
        except InvalidTag:
            raise BackupError(
                f"encrypted chunk {self._index} failed authentication (damaged, truncated or reordered)"
            ) from None
        self._offset = 0
        self._index += 1
        self._done = final

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size if size >= 0 else 1 << 62
        while wanted > 0:
            if self._offset >= len(self._plain):
                if self._done:
                    break
                self._next_chunk()
                continue
            piece = self._plain[self._offset : self._offset + wanted]
            self._offset += len(piece)
            wanted -= len(piece)
            parts.append(piece)
        return b"".join(parts)

    def readable(self) -> bool:
        return True
