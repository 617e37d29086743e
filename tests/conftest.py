from __future__ import annotations

import os

import pytest

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_server(name: str, reason: str) -> None:
    """A test needing a server fails on CI when it is missing, and skips with the reason elsewhere."""
    if CI:
        pytest.fail(f"{name} is required on CI: {reason}")
    pytest.skip(f"{name} unavailable: {reason}")
