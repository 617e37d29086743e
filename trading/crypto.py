"""Secrets at rest (users' MEXC keys): Fernet with settings.FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@cache
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt(plain: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain secret; `ValueError` (never the token or secret) when the key changed or data is corrupt."""
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with the current FIELD_ENCRYPTION_KEY") from None


def mask(value: str, *, head: int = 4, tail: int = 2) -> str:
    """`mx0vgl…k3`-style hint: enough to recognise a key, too little to use it."""
    if len(value) <= head + tail + 2:
        return "…" + value[-1:] if value else ""
    return f"{value[:head]}…{value[-tail:]}"
