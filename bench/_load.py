"""HTTP load for the benchmarks: wrk when installed, else a small HTTP/1.1 load client of our own.

`measure(url, headers, connections=50, seconds=5)` -> {"rps", "p50", "p99", "max" (ms), "errors"
(non-2xx), "socket_errors", "connects", "conn_mean_min"/"conn_mean_max" (ms: the lowest and highest
of the connections' mean latencies; NaN from wrk)}: a closed loop, one request in flight per connection, kept
alive like wrk's.

The fallback runs in a process of its own (`python -m bench._load`): a fresh interpreter on uvloop,
its garbage collector off for the run, each connection an `asyncio.Protocol` that writes the next
request from `data_received` (no streams, no tasks, no regex per answer). A request's latency is
taken from the write to the answer's last byte, so the client's own queueing counts in it: keeping
the client's work per answer near 10 us keeps that part small beside the server's. On a 2-core
machine it still takes CPU the server would have had, so compare its figures with a baseline it
measured too in the same run, never with wrk's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import shutil
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def measure(
    url: str, headers: dict[str, str], *, connections: int = 50, seconds: float = 5
) -> dict[str, float]:
    if shutil.which("wrk"):
        return _wrk(url, headers, connections, seconds)
    argv = [sys.executable, "-m", "bench._load", url, "-c", str(connections), "-d", str(seconds)]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    result: dict[str, float] = json.loads(out)
    return result


def tool() -> str:
    """The load generator `measure` uses, for the benches' headers."""
    return (
        "wrk (1 thread)"
        if shutil.which("wrk")
        else "bench/_load.py (one process on uvloop; no wrk installed)"
    )


def _wrk(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, float]:
    # One thread: on a 2-core machine a second wrk thread takes a core's share from the server.
    argv = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency", url]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        return float(found.group(1)) * _UNITS[found.group(2)] if found else float("nan")

    top = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "max": float(top.group(1)) * _UNITS[top.group(2)] if top else float("nan"),
        "errors": float(errors.group(1)) if errors else 0.0,
        "socket_errors": float(sum(int(g) for g in failed.groups())) if failed else 0.0,
        "connects": float("nan"),
        "conn_mean_min": float("nan"),
        "conn_mean_max": float("nan"),
    }


# ---- the fallback client (its own process) ------------------------------------------------------------


class _Run:
    def __init__(self, host: str, port: int, request: bytes, seconds: float) -> None:
        self.host, self.port, self.request = host, port, request
        self.latencies: list[float] = []
        self.errors = 0
        self.socket_errors = 0
        self.connects = 0
        self.start = time.perf_counter()
        self.stop = self.start + seconds
        self.done: asyncio.Future[None] | None = None
        self.open = 0
        self.clients: list[_Client] = []


class _Client(asyncio.Protocol):
    """One connection: write a request, read its answer (Content-Length or chunked), write the next."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: Any = None
        self.buffer = b""
        self.sent = 0.0
        self.mine: list[float] = []
        run.clients.append(self)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.run.open += 1
        self._send()

    def _send(self) -> None:
        self.sent = time.perf_counter()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        found = head.find(b"\r\ncontent-length:")
        if found >= 0:
            line_end = head.find(b"\r\n", found + 2)
            length = int(head[found + 17 : line_end if line_end >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
        elif b"\r\ntransfer-encoding: chunked" in head and not self.buffer.endswith(b"0\r\n\r\n"):
            return
        now = time.perf_counter()
        run = self.run
        run.latencies.append(now - self.sent)
        self.mine.append(now - self.sent)
        if self.buffer[9:10] != b"2":  # "HTTP/1.1 2xx"
            run.errors += 1
        self.buffer = b""
        if now >= run.stop:
            self.transport.close()
        elif b"\r\nconnection: close" in head:
            self.transport.close()
            _connect(run)
        else:
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.open -= 1
        if self.buffer:
            run.socket_errors += 1
        if run.open == 0 and time.perf_counter() >= run.stop and run.done and not run.done.done():
            run.done.set_result(None)


def _connect(run: _Run) -> None:
    async def dial() -> None:
        run.connects += 1
        try:
            await asyncio.get_running_loop().create_connection(lambda: _Client(run), run.host, run.port)
        except OSError:
            run.socket_errors += 1
            if time.perf_counter() < run.stop:
                _connect(run)

    asyncio.get_running_loop().create_task(dial())


async def _drive(url: str, headers: dict[str, str], connections: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    run = _Run(
        parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode(), seconds
    )
    run.done = asyncio.get_running_loop().create_future()
    for _ in range(connections):
        _connect(run)
    await asyncio.sleep(seconds)
    try:
        await asyncio.wait_for(run.done, 30)
    except TimeoutError:
        run.socket_errors += run.open
    took = time.perf_counter() - run.start
    # Each connection's mean latency: a spread between them means some server worker holds more
    # connections than another (keep-alive keeps a connection on the worker that accepted it).
    means = sorted(sum(c.mine) / len(c.mine) * 1000 for c in run.clients if c.mine)
    latencies = sorted(run.latencies)
    n = len(latencies)
    return {
        "rps": n / took,
        "p50": latencies[n // 2] * 1000 if n else float("nan"),
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "max": latencies[-1] * 1000 if n else float("nan"),
        "errors": float(run.errors),
        "socket_errors": float(run.socket_errors),
        "connects": float(run.connects),
        "conn_mean_min": means[0] if means else float("nan"),
        "conn_mean_max": means[-1] if means else float("nan"),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=50)
    parser.add_argument("-d", "--seconds", type=float, default=5.0)
    parser.add_argument("-H", "--header", action="append", default=[])
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    gc.disable()  # a collection in the client would land in some request's latency
    coro = _drive(args.url, headers, args.connections, args.seconds)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
