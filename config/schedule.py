"""Every periodic task, in one place. Each app contributes its entries here."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.env import cron


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "celery-heartbeat": {"task": "config.tasks.heartbeat", "schedule": 30.0},
        "api-idempotency-prune": {"task": "config.tasks.idempotency_keys_prune", "schedule": 3600.0},
        # New listings appear in exchangeInfo ahead of their open: a sync every 2 minutes sees them early.
        "trading-symbols-sync": {"task": "trading.tasks.symbols_sync", "schedule": 120.0},
        "trading-orders-reconcile": {"task": "trading.tasks.orders_reconcile", "schedule": 300.0},
        # The user-data stream pushes balance changes; this catches what it missed (one account call
        # per live account every 2 minutes, far under MEXC's 2 a second per account). Expires before
        # the next run so a backed-up queue does not pile up reads of the same accounts.
        "trading-live-balances-sync": {
            "task": "trading.tasks.live_balances_sync",
            "schedule": 120.0,
            "options": {"expires": 110.0},
        },
        "trading-paper-match": {"task": "trading.tasks.paper_orders_match", "schedule": 10.0},
        "trading-portfolio-snapshots": {"task": "trading.tasks.portfolio_snapshots", "schedule": 300.0},
        "notifications-requeue": {"task": "notifications.deliveries_requeue", "schedule": 300.0},
        "sniper-listings-watch": {"task": "sniper.listings_watch", "schedule": 60.0},
        "sniper-positions-sync": {"task": "sniper.positions_sync", "schedule": 10.0},
        "sniper-firings-resume": {"task": "sniper.firings_resume", "schedule": 30.0},
        # Shadow mode (config/shadow): a no-op when off; a divergence reaches the operators' inbox.
        "shadow-verify": {"task": "shadow.verify", "schedule": 600.0},
        "backups-full": {"task": "backups.scheduled_full", "schedule": cron(settings.BACKUP_FULL_CRON)},
        "backups-incremental": {
            "task": "backups.scheduled_incremental",
            "schedule": cron(settings.BACKUP_INCREMENTAL_CRON),
        },
        "backups-prune": {"task": "backups.scheduled_prune", "schedule": cron(settings.BACKUP_PRUNE_CRON)},
        "backups-verify": {"task": "backups.scheduled_verify", "schedule": cron(settings.BACKUP_VERIFY_CRON)},
    }
