"""Load MEXC's symbols (exchangeInfo + defaultSymbols) into Symbol and record what changed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import BruteError
from trading.services import symbols_sync


class Command(BaseCommand):
    help = "Sync MEXC spot symbols and their trading rules; records SymbolEvents for changes."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = symbols_sync()
        except BruteError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"syncsymbols: {result}")
