"""The shadow's persisted state: one small JSON file (var/shadow.json by default).

    {"mode": "shadowing" | "cut_over", "primary": URL, "shadow": URL, "original": URL,
     "started_at": ISO, "cutover_at": ISO | null, "last_verification": {...} | null}

No file means shadow mode is off. `primary` is the database every process must use: settings.py
reads it at start-up (`primary_url`), so after a cut-over or roll-back the processes pick the new
primary up when they restart. Written atomically (temp file + rename), so a reader never sees half.
Stdlib only: settings.py imports it before Django is set up.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SHADOWING = "shadowing"
CUT_OVER = "cut_over"


def load(path: Path) -> dict[str, Any] | None:
    """The state, or None when shadow mode is off. Errors: ValueError on an unreadable file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it") from exc
    if not isinstance(state, dict) or state.get("mode") not in (SHADOWING, CUT_OVER):
        raise ValueError(f"{path} has no valid 'mode'; fix or remove it")
    return state


def save(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".shadow-", suffix=".json")
    with os.fdopen(fd, "w") as out:
        json.dump(state, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def primary_url(path: Path) -> str | None:
    """The primary named by the state file, or None (shadow mode off: DATABASE_URL applies)."""
    state = load(path)
    return str(state["primary"]) if state else None
