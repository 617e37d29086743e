"""The settings dict of one extra database the benchmarks open beside the app's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def database_settings(engine: str, name: Path, *, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every key Django fills in for a configured database, so `connections.settings[alias] = ...`
    (or a backend's DatabaseWrapper) can take it as it is."""
    return {
        "ENGINE": engine,
        "NAME": str(name),
        "OPTIONS": options or {},
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {"NAME": None},
    }
