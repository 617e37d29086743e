"""A small process supervisor for `make run`: start every child, restart a crashed one with back-off,
stop them all on one Ctrl-C.

Why not honcho: honcho's manager stops every process as soon as one exits, so a crashed Celery
worker took the web server, the exchange and the sniper down with it (issue 15).

- Each child runs in its own session (`start_new_session`), so the terminal's Ctrl-C reaches only the
  supervisor, which then stops the children: each gets its own stop signal (SIGTERM by default: a
  Celery worker's warm shutdown, gunicorn's graceful stop) and its own grace time to finish (a
  worker's running task needs far longer than a web server); what is not gone by then, or at a
  second Ctrl-C, gets SIGKILL to its whole process group (celery's pool processes too).
- When the supervisor holds the terminal it moves itself into its own foreground process group, so
  `make` (its parent) does not receive the Ctrl-C either and `make run` exits 0 instead of
  "Error 130"; the terminal is handed back before exit.
- A child that exits while the supervisor is not stopping is restarted after 1, 2, 4 ... 30 s; the
  delay resets once a child has stayed up for `stable_s` seconds. Every start and exit is one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TextIO


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    stop_signal: signal.Signals = signal.SIGTERM
    grace_s: float = 10.0  # seconds from the stop signal to SIGKILL
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    pump: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    """Runs `children` until SIGINT/SIGTERM; `run()` returns the exit code (0 after a clean stop)."""

    def __init__(
        self,
        *,
        out: TextIO = sys.stdout,
        grace_s: float = 10.0,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        stable_s: float = 30.0,
        on_exit: Callable[[Child, int], None] | None = None,
    ) -> None:
        self.children: list[Child] = []
        self.out = out
        self.grace_s = grace_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.stable_s = stable_s
        self.on_exit = on_exit
        self._stop = threading.Event()
        self._force = threading.Event()  # a second Ctrl-C: stop waiting for the children
        self._lock = threading.Lock()
        self._width = 6

    def add(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        stop_signal: signal.Signals = signal.SIGTERM,
        grace_s: float | None = None,
    ) -> None:
        """One child; `stop_signal` asks it to stop cleanly, `grace_s` (default: the supervisor's)
        is how long it may take before it is killed."""
        grace = self.grace_s if grace_s is None else grace_s
        self.children.append(
            Child(name=name, argv=list(argv), env=dict(env), stop_signal=stop_signal, grace_s=grace)
        )
        self._width = max(self._width, len(name))

    def say(self, name: str, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self.out.write(f"{stamp} {name:<{self._width}} | {line}\n")
            self.out.flush()

    def _pump(self, child: Child, stream: TextIO) -> None:
        for line in stream:
            self.say(child.name, line.rstrip("\n"))

    def _start(self, child: Child) -> None:
        process = subprocess.Popen(  # noqa: S603  (argv from runbrute's own table, no shell)
            child.argv,
            env=dict(child.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.process, child.started_at, child.restart_at = process, time.monotonic(), None
        assert process.stdout is not None
        stream = open(process.stdout.fileno(), encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        child.pump = threading.Thread(target=self._pump, args=(child, stream), daemon=True)
        child.pump.start()
        self.say("runbrute", f"started {child.name} (pid {process.pid})")

    def _reap(self, child: Child, now: float) -> None:
        assert child.process is not None
        code = child.process.returncode
        if child.pump is not None:
            child.pump.join(timeout=1)
        child.process = None
        if self.on_exit is not None:
            self.on_exit(child, code)
        if now - child.started_at >= self.stable_s:
            child.failures = 0
        delay = min(self.backoff_s * 2**child.failures, self.backoff_max_s)
        child.failures += 1
        child.restart_at = now + delay
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self.say("runbrute", f"{child.name} {how}; restarting it in {delay:g}s (the others keep running)")

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._request_stop)
        with _foreground_terminal():
            for child in self.children:
                self._start(child)
            while not self._stop.wait(0.2):
                now = time.monotonic()
                for child in self.children:
                    if child.process is not None and child.process.poll() is not None:
                        self._reap(child, now)
                    elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                        self._start(child)
            self.stop_all()
        return 0

    def stop_all(self) -> None:
        """Each child's stop signal to it; SIGKILL to the process group of each child still there
        after its grace time, or at once after a second stop request (Ctrl-C)."""
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        self.say("runbrute", "stopping " + ", ".join(c.name for c in running) if running else "stopping")
        started = time.monotonic()
        for child in running:
            # The leader only: celery's pool processes finish their task when their parent says so.
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(child.stop_signal)
        told: set[str] = set()
        waiting = list(running)
        while waiting and not self._force.is_set():
            now = time.monotonic()
            waiting = [c for c in waiting if c.process is not None and c.process.poll() is None]
            for child in [c for c in waiting if now - started >= c.grace_s]:
                # Killed when its own grace is over, not when the slowest sibling is done.
                self.say("runbrute", f"{child.name} did not stop within {child.grace_s:g}s: killed")
                _signal_group(child, signal.SIGKILL)
            waiting = [c for c in waiting if now - started < c.grace_s]
            for child in waiting:
                if now - started >= 2.0 and child.name not in told:  # say what the wait is for
                    told.add(child.name)
                    self.say(
                        "runbrute",
                        f"waiting for {child.name} to stop cleanly (up to {child.grace_s:g}s; "
                        "Ctrl-C again to kill it now)",
                    )
            self._force.wait(0.1)
        for child in running:
            assert child.process is not None
            if child.process.poll() is None and self._force.is_set():
                self.say("runbrute", f"{child.name} did not stop at the second Ctrl-C: killed")
            # The group may hold grandchildren (celery's pool) even after the leader is gone.
            _signal_group(child, signal.SIGKILL)
            child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=1)
        self.say("runbrute", "stopped")


def _signal_group(child: Child, sig: int) -> None:
    assert child.process is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, sig)


@contextlib.contextmanager
def _foreground_terminal() -> Iterator[None]:
    """Own the terminal's foreground process group while running, so a Ctrl-C signals us alone.

    Without this the terminal sends SIGINT to `make` too, and make reports "Error 130" or dies by the
    signal however cleanly its child stopped.
    """
    try:
        fd = sys.stdin.fileno()
        owns = os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, ValueError):
        owns = False
    if not owns:
        yield None
        return
    previous = os.getpgrp()
    # tcsetpgrp from a background group raises SIGTTOU; ignore it around each hand-over.
    old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        if os.getpid() != previous:
            os.setpgid(0, 0)
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        signal.signal(signal.SIGTTOU, old_ttou)
        yield None
        return
    signal.signal(signal.SIGTTOU, old_ttou)
    try:
        yield None
    finally:
        old_ttou = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, previous)
        signal.signal(signal.SIGTTOU, old_ttou)
