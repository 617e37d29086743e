"""Shared fixtures. Servers a test needs are started here, on loopback; a missing one fails the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import settings as hypothesis_settings

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# CI explores the same examples on every run, so a red build is reproducible; locally they vary.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if CI:
    hypothesis_settings.load_profile("ci")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def wait_for(check: Callable[[], object], timeout: float = 15.0) -> object:
    """What `check` returns once it is truthy (polled every 50 ms); AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {check}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_TEST_URL when given, else a private redis-server started for this run."""
    given = os.environ.get("REDIS_TEST_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make system-deps` (CI installs it through apt-get)")
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _fresh_process_memory() -> Iterator[None]:
    """What a process keeps in memory to spare per-request work (issue 18) starts empty in each test:
    a rolled-back test reuses ids, and every test client is 127.0.0.1."""
    from accounts import auth_cache
    from config.api_throttling import counts_clear
    from trading.feed.store import memo_clear
    from trading.selectors import symbol_names_forget

    for forget in (auth_cache.clear, counts_clear, memo_clear, symbol_names_forget):
        forget()
    yield
    auth_cache.clear()


# channels' testing waits default to 1 s; a cold or loaded machine (a fresh CI clone, 2 cores) can
# take longer to authenticate and join the groups over Redis. These are waits, never timings.
WAIT_S = 30.0


class Communicator(WebsocketCommunicator):  # type: ignore[misc]  # channels ships no type hints
    """WebsocketCommunicator whose waits for something to arrive are generous (WAIT_S); a wait for
    nothing to arrive (`receive_nothing`) keeps its own short timeout."""

    # The parameters mirror channels' own signatures (hence ASYNC109).
    async def connect(self, timeout: float = WAIT_S) -> Any:  # noqa: ASYNC109
        return await super().connect(timeout)

    async def receive_from(self, timeout: float = WAIT_S) -> Any:  # noqa: ASYNC109
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout: float = WAIT_S) -> Any:  # noqa: ASYNC109
        return await super().receive_json_from(timeout)
