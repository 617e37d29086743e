"""Paper orders at 50 concurrent API clients against sqld, beside the same load on the default
embedded database, in the same run.

The app runs as `make run` serves it (bench/_app.py: runbrute's gunicorn "web" and uvicorn "live"
command lines and environment), once with DATABASE_URL left at the embedded file and once pointing
at a real sqld on loopback (JWT auth, Hrana over HTTP through config.libsql.hrana); the paper exchange
reads the project's simulated MEXC over HTTP. Each case: `POST /api/v1/orders`, a 2 USDT market buy,
from 1 client (the latency of one order), then from 50 keep-alive clients, each for BENCH_SECONDS
(default 30) after a warm-up; errors are every answer but 201 and every client timeout (10 s), by kind.

About 3 minutes with the default 30 s per case.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench import api_trading
from bench._app import ROOT, serve
from bench.api import environment

SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CLIENTS = api_trading.CLIENTS


def measure(label: str, env: dict[str, str], logs: Path) -> None:
    started = time.perf_counter()
    headers = api_trading.prepare(env)
    with serve(env, logs=logs) as app:
        print(f"({label}: migrated and ready in {time.perf_counter() - started:.1f}s)", flush=True)
        for clients in (1, CLIENTS):
            result = api_trading.load(
                app.web, headers, api_trading.ORDERS, 201, SECONDS, clients=clients, body=api_trading.ORDER
            )
            api_trading.report(f"{clients:>2} clients, {label}", result, 201)
            print(f"  (load average: {api_trading.load_average()})", flush=True)


def run() -> None:
    from config.libsql.testing import SqldServers

    print(
        f"POST /api/v1/orders (paper market buy), 1 then {CLIENTS} concurrent clients, {SECONDS:.0f}s each "
        f"after {api_trading.WARMUP}s warm-up, served as `make run` does (gunicorn web + uvicorn live); "
        f"load average: {api_trading.load_average()}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="brute-bench-orders-sqld-") as name,
        api_trading.SimExchange() as exchange,
    ):
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(api_trading.SETTINGS)
        with SqldServers(tmp / "sqld") as servers:
            url = servers.start("bench")
            default = api_trading.simulated(environment(tmp, None), exchange)
            (tmp / "remote").mkdir()
            remote = {
                **api_trading.simulated(environment(tmp / "remote", None), exchange),
                "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]),
                "DATABASE_URL": url,
                "LIBSQL_AUTH_TOKEN": servers.token,
            }
            (tmp / "logs-default").mkdir()
            (tmp / "logs-sqld").mkdir()
            measure("default embedded file (baseline)", default, tmp / "logs-default")
            measure("sqld over HTTP (config.libsql.hrana)", remote, tmp / "logs-sqld")
    print(f"(load average after: {api_trading.load_average()})")
