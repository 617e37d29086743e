"""A 403 is one log line: no traceback, and not written a second time by Django's own console handler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Django's own path from a raised PermissionDenied to the response (and its log line), in a process
# configured like a developer's `make run` (DEBUG on, where Django's console handler writes too).
REFUSE = """
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import convert_exception_to_response
from django.test import RequestFactory

def view(request):
    raise PermissionDenied("operators only")

request = RequestFactory().get("/backups/", HTTP_HOST="localhost")
request.user = AnonymousUser()
print("status", convert_exception_to_response(view)(request).status_code)
"""


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_403_is_logged_once_on_one_line(tmp_path: Path, log_format: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LOG_"))}
    env.update(DJANGO_ENV="development", LOG_FORMAT=log_format, BRUTE_VAR_DIR=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", REFUSE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    assert "status 403" in run.stdout
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "Forbidden (Permission denied): /backups/" in lines[0]
    assert "WARNING" in lines[0]
    assert "Traceback" not in run.stderr
