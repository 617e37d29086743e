"""Fernet encryption of channel settings at rest, with the project's FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY)


def encrypt_json(value: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    """The stored settings; an empty dict when there are none or the key has changed since."""
    if not token:
        return {}
    try:
        value = json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
