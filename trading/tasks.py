"""Celery tasks: thin, idempotent, time-limited adapters over one service each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from config.errors import BruteError
from trading import services
from trading.portfolio import portfolio_snapshots_record_all


@shared_task(
    name="trading.tasks.symbols_sync",
    time_limit=120,
    soft_time_limit=100,
    autoretry_for=(BruteError,),
    retry_backoff=2,
    max_retries=8,
)
def symbols_sync() -> str:
    # Retried: at start-up the exchange (or the bundled one) may still be coming up.
    return str(services.symbols_sync())


@shared_task(name="trading.tasks.orders_reconcile", time_limit=120, soft_time_limit=100)
def orders_reconcile() -> int:
    return services.orders_reconcile()


@shared_task(name="trading.tasks.live_balances_sync", time_limit=110, soft_time_limit=100)
def live_balances_sync() -> int:
    return services.live_balances_sync_all()


@shared_task(name="trading.tasks.paper_orders_match", time_limit=30, soft_time_limit=25)
def paper_orders_match(symbol: str | None = None) -> int:
    if not settings.REDIS_URL:
        return (
            0  # without Redis the live process matches (trading/feed/inprocess.py): its fills reach browsers
        )
    return services.paper_orders_match(symbol=symbol)


@shared_task(name="trading.tasks.portfolio_snapshots", time_limit=120, soft_time_limit=100)
def portfolio_snapshots() -> int:
    return portfolio_snapshots_record_all()
