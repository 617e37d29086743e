"""Settle orders left PENDING or open by a crash: ask the exchange about each by client order id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trading.services import orders_reconcile


class Command(BaseCommand):
    help = "Reconcile pending and open orders with the exchange (run after a restart)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-seconds",
            type=int,
            default=60,
            help="A PENDING order younger than this is left alone if the exchange has not seen it yet",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = orders_reconcile(grace=timedelta(seconds=options["grace_seconds"]))
        self.stdout.write(f"reconcile_orders: {changed} orders updated")
