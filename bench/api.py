"""The JSON API under load: requests/s and latency percentiles at 50 concurrent clients.

Serves the app's HTTP as `make run` does (bench/_app.py: runbrute's gunicorn "web" command line with
config/gunicorn.py; the live process is not needed, /me hands it no event), on a free loopback port,
against a temporary database and var/ directory. Rate limits stay on, set
high enough never to trip, so their cache round-trips are part of every figure.

1. GET /api/v1/me with a JWT access token (file cache: the no-Redis install).
2. GET /api/v1/me with a personal API token (one more indexed lookup per request).
3. GET /api/v1/me with a JWT again, with the cache on a local Redis when redis-server is installed.

Later trading endpoints add a market read and order placement here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._app import free_port, serve

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 50
SECONDS = 2.5
WARMUP = 0.5

SETTINGS = """
from config.settings import *  # noqa: F403
API_RATE_LIMIT_IP = "100000000/min"
API_RATE_LIMIT_TOKEN = "100000000/min"
"""
SETUP = """
import django
django.setup()
from accounts.models import Role, User
from accounts.tokens import api_token_create, token_pair_issue
user = User.objects.create_user("bench@example.com", "bench password 123", role=Role.TRADER)
print(token_pair_issue(user=user).access)
print(api_token_create(user=user, name="bench", scopes=["read", "trade"])[1])
"""


def environment(tmp: Path, redis_url: str | None) -> dict[str, str]:
    """The server's environment: modules and database in `tmp`, a var/ of its own per cache kind."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bench_api_settings",
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
        BRUTE_VAR_DIR=str(tmp / ("var-redis" if redis_url else "var-file")),
        DATABASE_URL=f"file:{tmp / 'bench.db'}",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "k" * 60,  # one key for both var/ dirs, so tokens stay valid
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@contextmanager
def process(args: list[str], env: dict[str, str] | None = None) -> Any:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def load(base: str, path: str, headers: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30.0) as http:
        start = time.perf_counter()
        measure_from = start + WARMUP
        stop = measure_from + SECONDS

        async def client() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop:
                response = await http.get(path)
                done = time.perf_counter()
                if done >= measure_from:
                    latencies.append(done - now)
                    errors += response.status_code != 200

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "rps": len(latencies) / SECONDS,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "n": len(latencies),
        "errors": errors,
    }


def prepare(tmp: Path) -> list[str]:
    """Migrates the temporary database and returns [JWT access token, personal API token]."""
    env = environment(tmp, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    setup = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return setup.stdout.split()


def serve_and_measure(
    tmp: Path, tokens: list[str], redis_url: str | None, cases: list[tuple[str, int]]
) -> None:
    env = environment(tmp, redis_url)
    with serve(env, logs=tmp, roles=("web",)) as app:
        for label, token_index in cases:
            result = asyncio.run(
                load(app.web, "/api/v1/me", {"Authorization": f"Bearer {tokens[token_index]}"})
            )
            print(
                f"{label:<38} {result['rps']:8.0f} req/s   p50 {result['p50']:6.1f} ms   "
                f"p99 {result['p99']:6.1f} ms   ({result['n']:.0f} requests, {result['errors']:.0f} non-200)"
            )


def run() -> None:
    print(
        f"GET /api/v1/me, {CLIENTS} concurrent clients, {SECONDS}s each after {WARMUP}s warm-up, "
        "`make run`'s gunicorn (config/gunicorn.py)"
    )
    with tempfile.TemporaryDirectory(prefix="brute-bench-api-") as name:
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(SETTINGS)
        started = time.perf_counter()
        tokens = prepare(tmp)
        print(f"(temporary database migrated in {time.perf_counter() - started:.1f}s)")
        file_cases = [("JWT access token, file cache", 0), ("personal API token, file cache", 1)]
        serve_and_measure(tmp, tokens, None, file_cases)
        redis = shutil.which("redis-server")
        if redis is None:
            print("redis-server not installed: the Redis-cache figure is skipped")
            return
        port = free_port()
        with process([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]):
            time.sleep(0.3)
            serve_and_measure(
                tmp, tokens, f"redis://127.0.0.1:{port}/0", [("JWT access token, Redis cache", 0)]
            )


if __name__ == "__main__":
    run()
