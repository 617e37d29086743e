"""The app as `make run` serves it, for the benchmarks: runbrute's own command lines (PROCESSES) and its
environment for the live process (`live_environment`), so a benchmark cannot drift from what runs.

`serve(env)` starts "web" (gunicorn, config/gunicorn.py: pages and the API) and "live" (uvicorn,
config.asgi: the WebSockets, and the endpoint the web workers hand live events to when there is no
Redis) on free loopback ports, waits until both answer, and yields their base URLs. The caller's
environment names the database, var/ and settings module, as `make run`'s own does.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runbrute() -> ModuleType:
    """runbrute's module; it reaches the app's models, so the registry is made ready first (with this
    process's settings: only the command lines and environment are read)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from config.management.commands import runbrute as module

    return module


def command(
    name: str, *, port: int, live_port: int, host: str = "127.0.0.1"
) -> tuple[list[str], dict[str, str]]:
    """`make run`'s argv for the process `name` and the environment its row adds."""
    process = next(p for p in runbrute().PROCESSES if p.name == name)
    context = {
        "python": sys.executable,
        "host": host,
        "port": port,
        "live_port": live_port,
        "var": ROOT / "var",
    }
    return shlex.split(process.command.format(sim_port=0, **context)), dict(process.env)


def live_environment(*, live_port: int, redis: bool, host: str = "127.0.0.1") -> dict[str, str]:
    """What `make run` tells every child about the live process."""
    environment: dict[str, str] = runbrute().live_environment(host=host, live_port=live_port, redis=redis)
    return environment


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its live descendants (gunicorn's workers),
    from /proc; 0.0 where there is none."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited meanwhile
            continue
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += [child for child, parent in parents.items() if parent == current]
    return total


@dataclass(frozen=True)
class App:
    web: str  # http://127.0.0.1:PORT, gunicorn
    live: str  # http://127.0.0.1:PORT, uvicorn (ws:// for sockets)
    processes: dict[str, subprocess.Popen[bytes]]


@contextmanager
def serve(
    env: dict[str, str],
    *,
    logs: Path,
    roles: tuple[str, ...] = ("web", "live"),
    timeout: float = 120.0,
) -> Iterator[App]:
    """Starts `roles` with `make run`'s command lines and environment, on free loopback ports; each
    one's stderr goes to `logs`/ROLE.log (a pipe nobody reads would stall a server that logs a lot)."""
    port, live_port = free_port(), free_port()
    redis = bool(env.get("REDIS_URL"))
    base = {**env, "PYTHONUNBUFFERED": "1", **live_environment(live_port=live_port, redis=redis)}
    started: dict[str, subprocess.Popen[bytes]] = {}
    with ExitStack() as stack:
        for role in roles:
            argv, extra = command(role, port=port, live_port=live_port)
            log = stack.enter_context((logs / f"{role}.log").open("wb"))
            started[role] = stack.enter_context(_process(argv, {**base, **extra}, log))
        app = App(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{live_port}", started)
        for role, proc in started.items():
            # Both answer /healthz (the live process through Django too); 503 still means "up".
            _wait_for(
                f"{app.web if role == 'web' else app.live}/healthz", proc, logs / f"{role}.log", timeout
            )
        yield app


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: BinaryIO) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log.read_text(errors='replace')[-2000:]}")
        with suppress(httpx.HTTPError):
            httpx.get(url, timeout=2.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
