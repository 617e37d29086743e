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


def _established(pid: int, port: int) -> int:
    """Connections to `port` that the process `pid` holds open (its sockets found in /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
            count += 1
    return count


def test_a_burst_of_keep_alive_connections_spreads_over_the_workers(tmp_path):
    """A worker takes a new connection only while it holds no more than the least-loaded one plus one
    (FairThreadWorker): gthread's own workers let the first to wake take most of a burst."""
    import socket

    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "DJANGO_ENV"}}
    env |= {"BRUTE_VAR_DIR": str(tmp_path), "MEXC_SIMULATED": "true", "WEB_WORKERS": "2", "WEB_THREADS": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    command = next(p.command for p in PROCESSES if p.name == "web")
    argv = shlex.split(command.format(python=sys.executable, host="127.0.0.1", port=port))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sockets: list[socket.socket] = []
    try:
        wait_for_port(port, timeout=120)
        for _ in range(2):  # both workers up and warm
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(request)
            sockets.append(sock)
        for sock in sockets:  # every one answered, and kept alive
            sock.settimeout(30)
            assert sock.recv(65536).startswith(b"HTTP/1.1 ")
        workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(workers) == 2
        held = sorted(_established(pid, port) for pid in workers)
        assert sum(held) == 20
        assert held[1] - held[0] <= 2, held
    finally:
        for sock in sockets:
            sock.close()
        proc.terminate()
        proc.wait(timeout=20)
