"""The whole app as a person meets it: Brute served as `make run` serves it (gunicorn for pages and the
API, the uvicorn "live" process for WebSockets) against the bundled exchange, driven by Chromium.

Runs in its own pytest process (`make test` does this): Playwright's sync API cannot share a process
with asyncio-based tests. Debian's Chromium is used; Playwright cannot download a browser here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from config.management.commands.runbrute import PROCESSES
from tests.conftest import free_port
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Stack:
    url: str
    mexc: SimExchangeThread
    log: Path
    env: dict[str, str]

    def manage(self, *args: str) -> None:
        """A management command against the running app's database and cache."""
        _manage(*args, env=self.env)

    def shell(self, code: str) -> str:
        """Python run by `manage.py shell` beside the app (to set up data a page shows); its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        return done.stdout


def wait_until(page: Page, expression: str, timeout_s: float = 30.0) -> None:
    """Polls a JavaScript expression until it is truthy. Unlike page.wait_for_function, whose polling
    evaluates a string inside the page and so trips the app's CSP (no unsafe-eval) whenever the
    first check is false, each page.evaluate here goes through the DevTools protocol."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression!r} stayed false for {timeout_s:g} s")
        time.sleep(0.2)


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)


def _wait_healthy(url: str, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + 240  # a loaded machine starts the servers slowly
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"a server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no /healthz within 240 s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_stack(var: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """The bundled exchange and daphne serving Brute against it, with its own var/ (database, cache).
    `extra_env` overrides the app's environment (e.g. MEXC_SIMULATED=false: live trading allowed)."""
    with SimExchangeThread(SimConfig(tick_seconds=0.2, push_seconds=0.1)) as mexc:
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "DJANGO_ENV"}}
        env |= {
            "BRUTE_VAR_DIR": str(var),
            "MEXC_BASE_URL": mexc.base_url,
            "MEXC_WS_URL": mexc.ws_url,
            "MEXC_SIMULATED": "true",
            "PYTHONUNBUFFERED": "1",
        }
        env |= extra_env or {}
        _manage("migrate", "--no-input", "-v0", env=env)
        _manage("syncsymbols", env=env)
        port, live_port = free_port(), free_port()
        env |= {
            "LIVE_WS_PORT": str(live_port),
            "LIVE_WS_PUBLIC": "true",
            "LIVE_FORWARD": "true",
            "LIVE_INTERNAL_URL": f"http://127.0.0.1:{live_port}",
        }
        log = var / "servers.log"
        context = {"python": sys.executable, "host": "127.0.0.1", "port": port, "live_port": live_port}
        procs: list[subprocess.Popen[bytes]] = []
        with log.open("ab") as out:
            # The same command lines as `make run` (runbrute's PROCESSES table).
            for process in PROCESSES:
                if process.name in ("web", "live"):
                    procs.append(
                        subprocess.Popen(
                            shlex.split(process.command.format(**context)),
                            cwd=ROOT,
                            env={**env, **dict(process.env)},
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, procs, log)
            _wait_healthy(f"http://127.0.0.1:{live_port}", procs, log)
            yield Stack(url, mexc, log, env)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("var")) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            "Debian's chromium is not installed: run `make system-deps` (CI installs it through apt-get)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.url, viewport={"width": 1400, "height": 1000})
    # Generous: eight engineers share two cores here; these are waits, never timed assertions.
    context.set_default_timeout(45_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
