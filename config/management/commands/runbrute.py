"""`make run`: the web server plus the background processes of the embedded default; Ctrl-C stops all.

The processes are one declarative table, `PROCESSES`: add a row to add a process. A crashed child is
restarted with back-off by config/supervisor.py and never takes the others down.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.services import admin_ensure_initial
from config.checks import shared_database_warnings
from config.shadow.services import shadow_configured
from config.supervisor import Supervisor


@dataclass(frozen=True)
class Process:
    """One child of `make run`. `command` is formatted with the run's context (python, host, port,
    sim_port, var); it runs only when every flag named in `when` is true (simulated, redis, worker,
    shadow);
    `env` is added to its environment. At Ctrl-C it gets `stop_signal` and `grace_s` seconds to stop
    cleanly before it is killed (config/supervisor.py)."""

    name: str
    command: str
    when: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    stop_signal: signal.Signals = signal.SIGTERM
    grace_s: float = 10.0


# A Celery worker's warm shutdown (SIGTERM) lets its running tasks finish; the same grace as
# deploy/compose.yaml gives it (backups take minutes). Idle, it still takes 5-10 s (billiard's polls).
WORKER_GRACE_S = 120.0


PROCESSES: tuple[Process, ...] = (
    Process(
        "exchange",
        "{python} manage.py simexchange --host 127.0.0.1 --port {sim_port}",
        ("simulated",),
        grace_s=5.0,
    ),
    # Pages, the API and static files over WSGI; WebSockets on the ASGI "live" process (issue 18).
    # SIGTERM: gunicorn's graceful stop, requests in flight finish (config/gunicorn.py graceful_timeout).
    Process(
        "web",
        "{python} -m gunicorn -c python:config.gunicorn --bind {host}:{port} config.wsgi:application",
        grace_s=15.0,
    ),
    # One process for every socket: its one broadcaster writes each frame to them all; without Redis the
    # market feed and user streams run in it too (trading/feed/inprocess.py), and the other processes
    # hand it their live events over loopback (config/livebus.py).
    Process(
        "live",
        "{python} -m uvicorn config.asgi:application --host {host} --port {live_port} --lifespan on"
        " --ws config.live_ws:LiveWebSocketProtocol --backlog 2048 --no-access-log --log-level warning",
        env=(("LIVE_FORWARD", "false"),),
    ),
    # With Redis the feed is its own process; else it runs inside "live" (trading/feed/inprocess.py).
    Process("marketfeed", "{python} manage.py marketfeed", ("redis",)),
    Process("userstream", "{python} manage.py userstream", ("redis",)),
    Process(
        "worker",
        "{python} -m celery -A config worker --concurrency 2 --loglevel INFO",
        ("worker",),
        grace_s=WORKER_GRACE_S,
    ),
    Process(
        "beat",
        "{python} -m celery -A config beat --loglevel INFO --schedule {var}/celerybeat-schedule",
        ("worker",),
    ),
    Process("sniper", "{python} manage.py sniper", ("worker",)),
    # Only while shadow mode is configured (a state file exists, `manage.py shadow start`).
    Process("shadow", "{python} manage.py shadow run", ("shadow",)),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mexc_reachable(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/v3/ping", timeout=4.0).status_code == 200
    except httpx.HTTPError:
        return False


class Command(BaseCommand):
    help = (
        "Serve Brute: gunicorn (pages, API), uvicorn (WebSockets), the Celery worker and beat, the "
        "sniper, and the bundled exchange when MEXC is unreachable. A crashed process is restarted; "
        "one Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--live-port",
            type=int,
            default=int(os.environ.get("LIVE_WS_PORT", "0")) or None,
            help="the WebSocket (live) process's port; default: --port + 1",
        )
        parser.add_argument("--admin-email", default=os.environ.get("BRUTE_ADMIN_EMAIL", "admin@brute.local"))
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the Celery worker, beat and the sniper"
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        live_port: int | None,
        admin_email: str,
        no_worker: bool,
        **opts: Any,
    ) -> None:
        password = admin_ensure_initial(email=admin_email)
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\nCreated the operator account {admin_email} with password: {password}\n"
                    "It is shown only this once: note it now, then change it under Account.\n"
                )
            )
        for warning in shared_database_warnings():
            self.stdout.write(self.style.WARNING(warning))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.update(_metrics_env())
        live_port = live_port or port + 1
        env.update(live_environment(host=host, live_port=live_port, redis=bool(settings.REDIS_URL)))
        context: dict[str, object] = {
            "python": sys.executable,
            "host": host,
            "port": port,
            "live_port": live_port,
            "var": settings.VAR_DIR,
            "sim_port": 0,
        }
        flags = {"simulated": False, "redis": bool(settings.REDIS_URL), "worker": not no_worker}
        flags["shadow"] = shadow_configured()
        if settings.MEXC_SIMULATED or not _mexc_reachable(str(settings.MEXC_BASE_URL)):
            sim_port = _free_port()
            context["sim_port"], flags["simulated"] = sim_port, True
            env.update(
                MEXC_BASE_URL=f"http://127.0.0.1:{sim_port}",
                MEXC_WS_URL=f"ws://127.0.0.1:{sim_port}/ws",
                # The bundled exchange serves the site's calendar on the same path (its scripted listings).
                MEXC_CALENDAR_URL=f"http://127.0.0.1:{sim_port}{urlsplit(str(settings.MEXC_CALENDAR_URL)).path}",
                # On loopback it answers at once: read it every 30 s (the real site: every 5 minutes).
                SNIPER_CALENDAR_EVERY_S=os.environ.get("SNIPER_CALENDAR_EVERY_S", "30"),
                MEXC_SIMULATED="true",
            )
            self.stdout.write(
                self.style.WARNING(
                    "MEXC is unreachable: serving the SIMULATED MARKET of the bundled exchange server "
                    f"on 127.0.0.1:{sim_port}. Live trading is disabled."
                )
            )
        supervisor = Supervisor(out=sys.stdout)
        for process in PROCESSES:
            if all(flags[flag] for flag in process.when):
                argv = shlex.split(process.command.format(**context))
                supervisor.add(
                    process.name,
                    argv,
                    {**env, **dict(process.env)},
                    stop_signal=process.stop_signal,
                    grace_s=process.grace_s,
                )
        self.stdout.write(
            self.style.SUCCESS(f"Brute is starting: open http://{host}:{port}/  (Ctrl-C stops everything)")
        )
        sys.exit(supervisor.run())


def live_environment(*, host: str, live_port: int, redis: bool) -> dict[str, str]:
    """What every child is told about the live process (bench/_app.py starts the app with it too).

    No proxy here: pages point browsers at the live port, and without Redis every other process hands
    its live events to the live one (the live process's own row overrides LIVE_FORWARD)."""
    loopback = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return {
        "LIVE_WS_PORT": str(live_port),
        "LIVE_WS_PUBLIC": "true",
        "LIVE_INTERNAL_URL": f"http://{loopback}:{live_port}",
        "LIVE_FORWARD": "false" if redis else "true",
    }


def _metrics_env() -> dict[str, str]:
    """Every child writes its Prometheus samples to one fresh folder, so the web process's /metrics
    shows them all (prometheus_client's multiprocess mode; see config/metrics.py)."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    # Samples of a previous run's processes would otherwise be summed into this run's.
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(folder)}
