"""`make run`: the web server plus the background processes of the embedded default; Ctrl-C stops all."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from honcho.manager import Manager

from accounts.services import admin_ensure_initial


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
        "Serve Brute: daphne, the Celery worker and beat, and the bundled exchange when MEXC is unreachable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--admin-email", default=os.environ.get("BRUTE_ADMIN_EMAIL", "admin@brute.local"))
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the Celery worker and beat"
        )

    def handle(
        self, *args: Any, host: str, port: int, admin_email: str, no_worker: bool, **opts: Any
    ) -> None:
        password = admin_ensure_initial(email=admin_email)
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\nCreated the operator account {admin_email} with password: {password}\n"
                    "It is shown only this once: note it now, then change it under Account.\n"
                )
            )
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        manager = Manager()
        python = sys.executable
        if settings.MEXC_SIMULATED or not _mexc_reachable(str(settings.MEXC_BASE_URL)):
            sim_port = _free_port()
            env.update(
                MEXC_BASE_URL=f"http://127.0.0.1:{sim_port}",
                MEXC_WS_URL=f"ws://127.0.0.1:{sim_port}/ws",
                MEXC_SIMULATED="true",
            )
            self.stdout.write(
                self.style.WARNING(
                    "MEXC is unreachable: serving the SIMULATED MARKET of the bundled exchange server "
                    f"on 127.0.0.1:{sim_port}. Live trading is disabled."
                )
            )
            manager.add_process(
                "exchange", f"{python} manage.py simexchange --host 127.0.0.1 --port {sim_port}", env=env
            )
        manager.add_process("web", f"{python} -m daphne -b {host} -p {port} config.asgi:application", env=env)
        if settings.REDIS_URL:
            # With Redis the feed is its own process; else it runs inside "web" (trading/feed/inprocess.py).
            manager.add_process("marketfeed", f"{python} manage.py marketfeed", env=env)
        if not no_worker:
            manager.add_process(
                "worker",
                f"{python} -m celery -A config worker --beat --concurrency 2 --loglevel INFO "
                f"--schedule {settings.VAR_DIR / 'celerybeat-schedule'}",
                env=env,
            )
            manager.add_process("sniper", f"{python} manage.py sniper", env=env)
        self.stdout.write(
            self.style.SUCCESS(f"Brute is starting: open http://{host}:{port}/  (Ctrl-C stops everything)")
        )
        manager.loop()
        sys.exit(manager.returncode or 0)
