"""`python manage.py sniper`: the listing sniper and the position/alert monitor (see runner.py)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from config.health import with_heartbeat
from trading.exchanges import hub, hub_close
from trading.sniper.runner import Sniper


class Command(BaseCommand):
    help = "Watch new listings and fire auto-buy rules; watch prices for exits, alerts and rule triggers."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("sniper: watching listings, positions, alerts and rules (Ctrl-C stops)")
        # `make run`'s supervisor and `docker stop` send SIGTERM: stop as cleanly as on Ctrl-C (the
        # running volley's task is cancelled and the hub's sessions closed) instead of dying at once.
        signal.signal(signal.SIGTERM, _interrupt)
        # The sniper runs on the exchange hub's loop (its volleys share the hub's sessions, clock and
        # limiter without a thread hop); the heartbeat beside it shows that loop blocked.
        running = hub().submit(with_heartbeat("sniper", Sniper().run()))
        try:
            running.result()
        except KeyboardInterrupt:
            running.cancel()
            with contextlib.suppress(concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
                running.result(timeout=10)
        finally:
            hub_close()
        self.stdout.write("sniper: stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
