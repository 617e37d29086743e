"""Every periodic task, in one place. Each app contributes its entries here."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab


def cron(expression: str) -> crontab:
    """A crontab from a five-field expression as written in settings (minute hour dom month dow)."""
    minute, hour, day_of_month, month_of_year, day_of_week = expression.split()
    return crontab(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "celery-heartbeat": {"task": "config.tasks.heartbeat", "schedule": 30.0},
    }
