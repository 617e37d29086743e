"""`python manage.py sniper`: the listing sniper and the position/alert monitor (see runner.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from django.core.management.base import BaseCommand

from config.health import with_heartbeat
from trading.sniper.runner import Sniper


class Command(BaseCommand):
    help = "Watch new listings and fire auto-buy rules; watch prices for exits, alerts and rule triggers."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("sniper: watching listings, positions, alerts and rules (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(with_heartbeat("sniper", Sniper().run()))
