"""`manage.py userstream`: the user-data-stream consumer as its own process (used when REDIS_URL is set)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from config.health import with_heartbeat
from trading.exchanges import hub, hub_close
from trading.userstream import UserStreams


class Command(BaseCommand):
    help = "Follow every live account's MEXC user-data stream: order updates, fills and balances."

    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.REDIS_URL:
            self.stderr.write(
                "Without REDIS_URL the live process follows the user-data streams itself (its page updates "
                "reach only its own process); running this as well only doubles the listen keys."
            )
        h = hub()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        running = h.submit(with_heartbeat("userstream", UserStreams(h).run()))
        while not stop.is_set() and not running.done():
            stop.wait(1.0)
        running.cancel()
        hub_close()
        if running.done() and not running.cancelled() and running.exception() is not None:
            self.stderr.write(f"user streams stopped: {running.exception()!r}")
            raise SystemExit(1)
