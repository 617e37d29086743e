"""Paper orders at 50 concurrent API clients against sqld, beside the same load on the default
embedded database, in the same run.

The app runs as `make run` serves it (one daphne process), once with DATABASE_URL left at the
embedded file and once pointing at a real sqld on loopback (JWT auth, Hrana over HTTP through
config.libsql.hrana); the paper exchange reads the project's simulated MEXC over HTTP. Each case:
`POST /api/v1/orders`, a 2 USDT market buy, from 1 client (the latency of one order), then from 50
keep-alive clients, each for BENCH_SECONDS (default 30) after a warm-up; errors are every answer
but 201 and every client timeout (10 s).

About 4 minutes with the default 30 s per case.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx

from bench import api_trading
from bench.api import ASGI, ROOT, environment, free_port, process, wait_for

SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CLIENTS = api_trading.CLIENTS


def measure(label: str, env: dict[str, str]) -> None:
    started = time.perf_counter()
    migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    setup_script = [sys.executable, "-c", api_trading.SETUP]
    setup = subprocess.run(setup_script, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    headers = {"Authorization": f"Bearer {setup.stdout.split()[-1]}"}
    port = free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    with process([daphne, "-b", "127.0.0.1", "-p", str(port), "bench_api_asgi:application"], env) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/v1/openapi.json", proc)
        print(f"({label}: migrated and ready in {time.perf_counter() - started:.1f}s)", flush=True)

        def order(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
            return http.post("/api/v1/orders", json=api_trading.ORDER)

        for clients in (1, CLIENTS):
            api_trading.CLIENTS = clients  # load() reads the module's figure
            result = asyncio.run(api_trading.load(base, headers, order, 201))
            api_trading.report(f"{clients:>2} clients, {label}", result, 201)
        api_trading.CLIENTS = CLIENTS


def run() -> None:
    from config.libsql.testing import SqldServers

    api_trading.SECONDS = SECONDS
    print(
        f"POST /api/v1/orders (paper market buy), 1 then {CLIENTS} concurrent clients, {SECONDS:.0f}s each "
        f"after {api_trading.WARMUP}s warm-up, one daphne process; load average: {api_trading.load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="brute-bench-orders-sqld-") as name:
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(api_trading.SETTINGS)
        (tmp / "bench_api_asgi.py").write_text(ASGI)
        sim = subprocess.Popen(
            [sys.executable, "-c", api_trading.SIMEXCHANGE],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert sim.stdout is not None
            exchange = sim.stdout.readline().strip()
            with SqldServers(tmp / "sqld") as servers:
                url = servers.start("bench")
                default = {**environment(tmp, None), "MEXC_BASE_URL": exchange}
                remote = {
                    **environment(tmp / "remote", None),
                    "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
                    "MEXC_BASE_URL": exchange,
                    "DATABASE_URL": url,
                    "LIBSQL_AUTH_TOKEN": servers.token,
                }
                (tmp / "remote").mkdir()
                measure("default embedded file (baseline)", default)
                measure("sqld over HTTP (config.libsql.hrana)", remote)
        finally:
            if sim.stdin is not None:
                sim.stdin.close()
            sim.wait(timeout=10)
    print(f"(load average after: {api_trading.load_average()})")
