"""`make run`'s process manager (config/management/commands/runbrute.py, config/supervisor.py), run
for real: a killed child comes back, the others keep running, one SIGINT stops all and exits 0."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


class Output:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(line)

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.lines.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(f"no line matched {pattern!r}; output:\n{''.join(self.lines[-60:])}")


@pytest.fixture
def brute_env(tmp_path):
    env = {
        **os.environ,
        "BRUTE_VAR_DIR": str(tmp_path),
        "MEXC_SIMULATED": "true",
        "DJANGO_ENV": "development",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return env


def stop_leaving_no_orphans(process: subprocess.Popen[str]) -> None:
    """After a failed test: stop runbrute the way a user would (Ctrl-C, then Ctrl-C again to kill
    what is still stopping), so its children do not outlive the test; SIGKILL only as a last resort."""
    for _ in range(2):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_killed_child_is_restarted_and_one_sigint_stops_everything(brute_env):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runbrute", "--port", str(port)],
        cwd=ROOT,
        env=brute_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(process)
    try:
        pids = {
            name: int(out.wait_for(rf"started {name} \(pid (\d+)\)").group(1))
            for name in ("exchange", "web", "live", "worker", "beat", "sniper")
        }
        wait_for_port(port, timeout=90)
        os.kill(pids["sniper"], signal.SIGKILL)
        out.wait_for(r"sniper was killed by signal 9; restarting it in 1s \(the others keep running\)")
        restarted = int(out.wait_for(rf"started sniper \(pid (?!{pids['sniper']}\))(\d+)\)").group(1))
        assert restarted != pids["sniper"]
        os.kill(restarted, 0)  # the new sniper is alive
        for name in ("exchange", "web", "live", "worker", "beat"):
            os.kill(pids[name], 0)  # and nobody else was stopped or restarted
        assert sum("started web" in line for line in out.lines) == 1
        assert not any("started shadow" in line for line in out.lines)  # shadow mode is off
        # Generous: the first request of a cold worker on a loaded machine (a wait, not a timing).
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code in (200, 503)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        out.wait_for(r"runbrute \| stopped")
        for pid in [*pids.values(), restarted]:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        stop_leaving_no_orphans(process)


def test_pages_and_the_api_go_to_gunicorn_and_the_sockets_to_one_uvicorn_live_process():
    from config.management.commands.runbrute import PROCESSES

    commands = {p.name: p for p in PROCESSES}
    assert "gunicorn" in commands["web"].command
    assert "config.wsgi:application" in commands["web"].command
    live = commands["live"]
    assert "uvicorn config.asgi:application" in live.command
    assert "{live_port}" in live.command
    assert "--backlog 2048" in live.command  # a burst of connects waits in the queue, not refused
    assert dict(live.env)["LIVE_FORWARD"] == "false"  # the live process delivers its own events


def test_in_shadow_mode_make_run_starts_the_shipper_and_healthz_sees_its_heartbeat(brute_env, tmp_path):
    target = tmp_path / "target.db"
    sqlite3.connect(target).close()  # an empty database to shadow to
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "shadow", "start", "--to", f"file:{target}"],
        cwd=ROOT,
        env=brute_env,
        check=True,
        timeout=120,
    )
    port = free_port()
    process = subprocess.Popen(
        [*manage, "runbrute", "--port", str(port), "--no-worker"],
        cwd=ROOT,
        env=brute_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = Output(process)
    try:
        shipper = int(out.wait_for(r"started shadow \(pid (\d+)\)").group(1))
        wait_for_port(port, timeout=90)
        deadline = time.monotonic() + 60
        checks: dict[str, dict[str, object]] = {}
        while True:
            try:
                checks = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["checks"]
            except httpx.TimeoutException:  # a cold worker's first request on a loaded machine
                checks = {"shadow_shipper": {"status": "no answer within 10 s"}}
            if checks["shadow_shipper"]["status"] == "ok" and "age_s" in checks["shadow_shipper"]:
                break
            assert time.monotonic() < deadline, checks["shadow_shipper"]
            time.sleep(0.5)
        assert checks["shadow"]["state"] in ("in_sync", "catching_up")
        os.kill(shipper, 0)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(shipper, 0)
    finally:
        stop_leaving_no_orphans(process)


def test_the_sniper_stops_cleanly_on_sigterm(brute_env):
    """`make run`'s supervisor and `docker stop` send SIGTERM: the sniper stops as on Ctrl-C (its task
    cancelled, the hub closed, exit 0) instead of dying mid-volley."""
    sniper = subprocess.Popen(
        [sys.executable, "manage.py", "sniper"],
        cwd=ROOT,
        env=brute_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = Output(sniper)
        out.wait_for(r"sniper: watching listings")
        time.sleep(2)  # running: its loops are on the hub
        assert sniper.poll() is None
        sniper.send_signal(signal.SIGTERM)
        assert sniper.wait(timeout=30) == 0
        out.wait_for(r"sniper: stopped")
    finally:
        if sniper.poll() is None:
            sniper.kill()
            sniper.wait()


def test_each_process_gets_its_own_stop_signal_and_grace():
    """The trial's fault: Ctrl-C killed the Celery worker after 5 s instead of letting its warm
    shutdown (SIGTERM: running tasks finish) complete. Same grace as deploy/compose.yaml gives it."""
    import yaml

    from config.management.commands.runbrute import PROCESSES

    rows = {p.name: p for p in PROCESSES}
    worker = rows["worker"]
    assert worker.stop_signal == signal.SIGTERM  # warm, not remapped to a cold SIGQUIT
    assert "REMAP_SIGTERM" not in dict(worker.env)
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    assert worker.grace_s == int(compose["worker"]["stop_grace_period"].removesuffix("s"))
    assert rows["web"].grace_s > 10  # beyond gunicorn's graceful_timeout (config/gunicorn.py)
    assert worker.grace_s > max(p.grace_s for p in PROCESSES if p.name != "worker")


SLOW_STOP = """
import signal, sys, time
def stop(*_):
    time.sleep(float(sys.argv[1]))  # a clean shutdown that takes this long
    print("stopped cleanly", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
while True:
    time.sleep(0.05)
"""

STUCK = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("up", flush=True)
while True:
    time.sleep(0.05)
"""


def test_the_supervisor_waits_each_childs_own_grace_and_kills_only_the_late():
    import io

    from config.supervisor import Supervisor

    out = io.StringIO()
    supervisor = Supervisor(out=out, grace_s=1.0)
    supervisor.add("slow", [sys.executable, "-c", SLOW_STOP, "2.5"], os.environ, grace_s=60.0)
    supervisor.add("stuck", [sys.executable, "-c", STUCK], os.environ)  # the default grace: 1 s
    for child in supervisor.children:
        supervisor._start(child)
    deadline = time.monotonic() + 60
    while out.getvalue().count("| up") < 2:
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.05)
    supervisor.stop_all()
    slow, stuck = supervisor.children
    assert slow.process is not None
    assert stuck.process is not None
    assert slow.process.returncode == 0, out.getvalue()  # finished its clean stop past the others' grace
    assert "slow   | stopped cleanly" in out.getvalue()
    assert stuck.process.returncode == -signal.SIGKILL
    assert "stuck did not stop within 1s: killed" in out.getvalue()
    assert "slow did not stop" not in out.getvalue()
    # The stuck one is killed when its own grace is over, not after the slow sibling's clean stop.
    log = out.getvalue()
    assert log.index("stuck did not stop within 1s: killed") < log.index("slow   | stopped cleanly"), log


def test_a_second_ctrl_c_kills_what_is_still_stopping():
    import io

    from config.supervisor import Supervisor

    out = io.StringIO()
    supervisor = Supervisor(out=out)
    supervisor.add("stuck", [sys.executable, "-c", STUCK], os.environ, grace_s=600.0)
    supervisor._start(supervisor.children[0])
    deadline = time.monotonic() + 60
    while "| up" not in out.getvalue():
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.05)
    stopping = threading.Thread(target=supervisor.stop_all)
    stopping.start()
    while "waiting for stuck to stop cleanly (up to 600s; Ctrl-C again" not in out.getvalue():
        assert time.monotonic() < deadline, out.getvalue()
        time.sleep(0.05)
    supervisor._request_stop(signal.SIGINT, None)  # the first Ctrl-C started the stop
    supervisor._request_stop(signal.SIGINT, None)  # the second
    stopping.join(60)
    assert not stopping.is_alive()
    assert "stuck did not stop at the second Ctrl-C: killed" in out.getvalue()
    assert supervisor.children[0].process is not None
    assert supervisor.children[0].process.returncode == -signal.SIGKILL
