"""The web role as `make run` starts it (gunicorn, config/gunicorn.py), over a real socket."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.management.commands.runbrute import PROCESSES
from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "DJANGO_ENV"}}
    env |= {"BRUTE_VAR_DIR": str(var), "MEXC_SIMULATED": "true", "WEB_WORKERS": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    port = free_port()
    command = next(p.command for p in PROCESSES if p.name == "web")
    argv = shlex.split(command.format(python=sys.executable, host="127.0.0.1", port=port))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_request_line_past_8_kb_gets_414(web):
    response = httpx.get(f"{web}/healthz?pad={'x' * 9000}", timeout=30)
    assert response.status_code == 414


def test_a_long_request_line_under_8_kb_is_served(web):
    response = httpx.get(f"{web}/healthz?pad={'x' * 7000}", timeout=30)
    assert response.status_code in (200, 503)  # served: healthy or not is /healthz's own answer
    assert response.headers["content-type"].startswith("application/json")
