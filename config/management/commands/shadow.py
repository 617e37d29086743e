"""`manage.py shadow start --to URL | status | run | verify | cutover | rollback | stop`.

See README "Moving to Turso without downtime". Every failure exits non-zero with one readable line.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.shadow.core import ShadowError, ship_once
from config.shadow.db import ShadowDbError
from config.shadow.services import current_primary_url, shadow_get, shadow_status, shadow_verify_and_alert

WAIT_POLL_S = 5.0


def _heartbeat(stop: threading.Event) -> None:
    # Imported here: only the `run` action beats a heartbeat, and health pulls in the cache settings.
    from config.health import ROLES, role_heartbeat

    while not stop.is_set():
        with contextlib.suppress(Exception):  # the cache being down never stops the shipper
            role_heartbeat("shadow")
        stop.wait(ROLES["shadow"].every_s)


class Command(BaseCommand):
    help = "Shadow mode: copy to a second database, keep it in sync, verify, cut over and roll back."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        start = sub.add_parser("start", help="snapshot the primary to an empty database and start capturing")
        start.add_argument(
            "--to", required=True, help="the target: http(s):// or libsql:// (sqld/Turso) or file:PATH"
        )
        status = sub.add_parser("status", help="state, lag and the last verification (JSON)")
        status.add_argument("--verify", action="store_true", help="run a verification now")
        run = sub.add_parser(
            "run", help="the shipper: apply the primary's writes to the shadow until stopped"
        )
        run.add_argument("--once", action="store_true", help="catch up, then exit")
        run.add_argument(
            "--wait",
            action="store_true",
            help="while shadow mode is off, wait for it instead of failing (the Docker role)",
        )
        sub.add_parser("verify", help="compare row counts and digests; exits 1 on a divergence")
        cutover = sub.add_parser("cutover", help="make the shadow the primary (writes pause briefly)")
        cutover.add_argument(
            "--max-pause", type=float, default=10.0, help="seconds writes may wait (default 10)"
        )
        rollback = sub.add_parser("rollback", help="return to the previous primary with every write since")
        rollback.add_argument(
            "--max-pause", type=float, default=4.0, help="seconds (sqld drops a lock after 5)"
        )
        sub.add_parser("resync", help="after a migrate the shadow missed: schema and changed tables again")
        sub.add_parser("stop", help="shadow mode off: remove the capture triggers and the state file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except (ShadowError, ShadowDbError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0]) from exc

    def _print(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, indent=2, default=str))

    def _start(self, options: dict[str, Any]) -> None:
        state = shadow_get().start(current_primary_url(), options["to"])
        self.stdout.write(
            f"shadow started: {state['primary']} -> {state['shadow']}; now run `manage.py shadow run` "
            "(or the Celery worker) to keep it in sync"
        )

    def _status(self, options: dict[str, Any]) -> None:
        report = shadow_status(check=options["verify"])
        self._print(report)
        if report["state"] == "error":
            raise CommandError(report["error"])

    def _run(self, options: dict[str, Any]) -> None:
        shadow = shadow_get()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if options["once"]:
            primary, other = shadow.databases()
            try:
                total = 0
                while count := ship_once(primary, other):
                    total += count
            finally:
                primary.close()
                other.close()
            self.stdout.write(f"applied {total} log entries")
            return
        # The "shadow" role's heartbeat (/healthz), beside the shipping loop, until it stops.
        beating = threading.Thread(target=_heartbeat, args=(stop,), name="shadow-heartbeat", daemon=True)
        beating.start()
        try:
            with contextlib.suppress(KeyboardInterrupt):
                if not options["wait"]:
                    shadow.ship(until=stop.is_set)
                    return
                while not stop.is_set():
                    if shadow.state() is None:
                        stop.wait(WAIT_POLL_S)
                        continue
                    # `shadow stop` removes the state: back to waiting rather than failing.
                    shadow.ship(until=lambda: stop.is_set() or shadow.state() is None)
        finally:
            stop.set()
            beating.join(5)

    def _verify(self, options: dict[str, Any]) -> None:
        result = shadow_verify_and_alert()
        self._print(result)
        if not result.get("ok", True):
            raise CommandError(f"divergent: {'; '.join(result['divergences'])}")

    def _cutover(self, options: dict[str, Any]) -> None:
        state = shadow_get().cutover(max_pause=options["max_pause"])
        self.stdout.write(
            f"cut over in a {state['pause_s']}s pause: the primary is now {state['primary']}. Restart the "
            "web, worker and beat processes now; until then their writes are refused (nothing is lost)."
        )

    def _rollback(self, options: dict[str, Any]) -> None:
        state = shadow_get().rollback(max_pause=options["max_pause"])
        self.stdout.write(
            f"rolled back in a {state['pause_s']}s pause: the primary is again {state['primary']}. "
            "Restart the web, worker and beat processes now."
        )

    def _resync(self, options: dict[str, Any]) -> None:
        copied = shadow_get().resync()
        self.stdout.write(f"schema synced; tables copied again: {', '.join(copied) or 'none'}")

    def _stop(self, options: dict[str, Any]) -> None:
        shadow_get().stop()
        self.stdout.write("shadow mode off")
