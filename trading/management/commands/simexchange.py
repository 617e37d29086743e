"""``manage.py simexchange``: the MEXC-compatible simulated exchange for tests and the offline demo."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop
from django.core.management.base import BaseCommand, CommandParser

from trading.simexchange.config import SimConfig
from trading.simexchange.server import SimExchange, settle_heap


class Command(BaseCommand):
    help = "Serve a simulated MEXC spot exchange (REST /api/v3, WebSocket /ws, scenario control /_sim)."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = SimConfig()
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--api-key", default=defaults.api_key)
        parser.add_argument("--api-secret", default=defaults.api_secret)

    def handle(self, *args: Any, **options: Any) -> None:
        config = SimConfig(seed=options["seed"], api_key=options["api_key"], api_secret=options["api_secret"])
        # On uvloop, as uvicorn runs: less of the loop's own time per request in a burst of orders.
        uvloop.run(self._serve(config, options["host"], options["port"]))

    async def _serve(self, config: SimConfig, host: str, port: int) -> None:
        sim = SimExchange(config)
        bound = await sim.start(host, port)
        settle_heap(sim)
        self.stdout.write(f"simulated MEXC on http://{host}:{bound} (ws://{host}:{bound}/ws)")
        self.stdout.write(f"demo key {config.api_key} secret {config.api_secret}")
        try:
            await asyncio.Event().wait()
        finally:
            await sim.stop()
