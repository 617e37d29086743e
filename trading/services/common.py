"""Shared by the service modules."""

from __future__ import annotations

from config.errors import BruteError


def refuse(code: str, message: str, status: int = 400) -> BruteError:
    return BruteError(message, code=code, status=status)
