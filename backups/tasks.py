"""Celery adapters: each takes ids or flags, calls one service, and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from backups import services
from backups.models import BackupRun

LIMIT = 3 * 60 * 60


@shared_task(name="backups.run", time_limit=LIMIT, soft_time_limit=LIMIT - 60)
def backup_run_task(run_id: int) -> str:
    return services.backup_run_execute(run_id=run_id).status


@shared_task(name="backups.scheduled_full", time_limit=LIMIT, soft_time_limit=LIMIT - 60)
def backup_scheduled_full() -> str:
    return services.backup_run_now(action=BackupRun.Action.CREATE).status


@shared_task(name="backups.scheduled_incremental", time_limit=LIMIT, soft_time_limit=LIMIT - 60)
def backup_scheduled_incremental() -> str:
    return services.backup_run_now(action=BackupRun.Action.CREATE, incremental=True).status


@shared_task(name="backups.scheduled_prune", time_limit=LIMIT, soft_time_limit=LIMIT - 60)
def backup_scheduled_prune() -> str:
    return services.backup_run_now(action=BackupRun.Action.PRUNE).status


@shared_task(name="backups.scheduled_verify", time_limit=LIMIT, soft_time_limit=LIMIT - 60)
def backup_scheduled_verify() -> str:
    return services.backup_run_now(action=BackupRun.Action.VERIFY).status
