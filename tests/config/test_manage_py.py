"""manage.py says a bad setting in one line and exits non-zero, whatever the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("BACKUP_KEEP_LAST", "abc", "BACKUP_KEEP_LAST must be a whole number"),
        ("PORT", "abc", "PORT must be a whole number, got 'abc'"),
        (
            "BACKUP_FULL_CRON",
            "0 3 * *",
            "(5 fields (minute hour day month weekday), not 4)",
        ),
        ("BACKUP_VERIFY_CRON", "0 25 * * *", "BACKUP_VERIFY_CRON is not a valid crontab expression"),
    ],
)
@pytest.mark.parametrize("command", ["check", "runbrute"])
def test_a_bad_setting_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, name: str, value: str, words: str, command: str
) -> None:
    env = {**os.environ, name: value, "BRUTE_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("manage.py: ")
    assert words in lines[0]
    assert "Traceback" not in done.stderr
