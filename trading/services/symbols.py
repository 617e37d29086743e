"""Symbols: MEXC's exchangeInfo and defaultSymbols into Symbol rows, with change events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from trading import realtime
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.types import (
    SymbolRules,
)
from trading.exchanges import (
    public_client,
    run,
)
from trading.models import (
    Symbol,
    SymbolEvent,
    SymbolStatus,
)

if TYPE_CHECKING:
    pass
from config.errors import refuse

log = logging.getLogger(__name__)


# ---- symbols --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymbolSyncResult:
    total: int
    created: int
    updated: int
    events: int

    def __str__(self) -> str:
        return (
            f"{self.total} symbols: {self.created} new, {self.updated} changed, {self.events} events recorded"
        )


def symbols_fetch() -> list[SymbolRules]:
    """exchangeInfo + defaultSymbols from the market. Raises BruteError("exchange_unavailable")."""

    async def fetch(exchange: Exchange) -> list[SymbolRules]:
        return await exchange.symbols()

    try:
        return run(public_client, fetch)
    except xerr.ExchangeError as exc:
        raise refuse("exchange_unavailable", f"Could not load symbols from MEXC: {exc}", 503) from exc


def _symbol_fields(rules: SymbolRules) -> dict[str, object]:
    return {
        "base_asset": rules.base_asset,
        "quote_asset": rules.quote_asset,
        "status": rules.status.value,
        "api_tradable": rules.api_tradable,
        "spot_allowed": rules.spot_trading_allowed,
        "trade_sides": rules.trade_sides.value,
        "price_precision": rules.price_decimals,
        "quantity_precision": rules.quantity_decimals,
        "min_quantity": rules.min_quantity,
        "min_notional": rules.min_notional,
        "min_notional_market": rules.min_notional_market,
        "max_notional": rules.max_notional,
        "max_notional_market": rules.max_notional_market,
        "maker_commission": rules.maker_commission,
        "taker_commission": rules.taker_commission,
        "order_types": sorted(t.value for t in rules.order_types),
    }


SYNCED_FIELDS = (
    "base_asset",
    "quote_asset",
    "status",
    "api_tradable",
    "spot_allowed",
    "trade_sides",
    "price_precision",
    "quantity_precision",
    "min_quantity",
    "min_notional",
    "min_notional_market",
    "max_notional",
    "max_notional_market",
    "maker_commission",
    "taker_commission",
    "order_types",
)


def _differs(row: Symbol, fields: dict[str, object]) -> bool:
    return any(getattr(row, name) != value for name, value in fields.items())


def symbols_sync(*, rules: Sequence[SymbolRules] | None = None) -> SymbolSyncResult:
    """Upsert every symbol; record SymbolEvents for new symbols, status and API-tradable changes and
    removals. Idempotent: a second run with the same data changes nothing."""
    fetched = list(rules) if rules is not None else symbols_fetch()
    if not fetched:
        raise refuse("exchange_unavailable", "MEXC returned no symbols; nothing was changed", 503)
    now = timezone.now()
    existing = {s.symbol: s for s in Symbol.objects.all()}
    first_sync = not existing
    fresh: list[Symbol] = []
    changed: list[Symbol] = []
    events: list[SymbolEvent] = []
    for item in fetched:
        fields = _symbol_fields(item)
        row = existing.get(item.symbol)
        if row is None:
            fresh.append(
                Symbol(symbol=item.symbol, first_seen=now, listed_at=None if first_sync else now, **fields)
            )
            if not first_sync:
                events.append(
                    SymbolEvent(kind=SymbolEvent.Kind.NEW, symbol=item.symbol, new=item.status.value, at=now)
                )
            continue
        events += _change_events(row, item, now)
        if _differs(row, fields):
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated = now
            changed.append(row)
    with transaction.atomic():
        Symbol.objects.bulk_create(fresh, batch_size=500)
        Symbol.objects.bulk_update(changed, [*SYNCED_FIELDS, "updated"], batch_size=500)
        events += _removals(existing, {r.symbol for r in fetched}, now)
        SymbolEvent.objects.bulk_create(events)
        if events:
            realtime.symbols_changed(len(events))
    return SymbolSyncResult(total=len(fetched), created=len(fresh), updated=len(changed), events=len(events))


def _change_events(row: Symbol, item: SymbolRules, now: datetime) -> list[SymbolEvent]:
    found = []
    if row.status != item.status.value:
        found.append(
            SymbolEvent(
                kind=SymbolEvent.Kind.STATUS, symbol=row.symbol, old=row.status, new=item.status.value, at=now
            )
        )
    if row.api_tradable != item.api_tradable:
        found.append(
            SymbolEvent(
                kind=SymbolEvent.Kind.API_TRADABLE,
                symbol=row.symbol,
                old=str(row.api_tradable).lower(),
                new=str(item.api_tradable).lower(),
                at=now,
            )
        )
    return found


def _removals(existing: dict[str, Symbol], present: set[str], now: datetime) -> list[SymbolEvent]:
    offline = SymbolStatus.OFFLINE
    gone = [s for name, s in existing.items() if name not in present and s.status != offline]
    for row in gone:
        Symbol.objects.filter(pk=row.pk).update(status=offline, updated=now)
    return [
        SymbolEvent(kind=SymbolEvent.Kind.REMOVED, symbol=s.symbol, old=s.status, new=offline, at=now)
        for s in gone
    ]
