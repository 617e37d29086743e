"""The Celery app. Every periodic schedule is declared in config/schedule.py."""

import logging
import os
import time
from typing import Any

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import task_failure, task_retry, task_revoked, task_success, worker_ready

import config.broker  # noqa: F401  (registers the brutefs:// transport of the no-Redis default)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("brute")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_schedule(sender: Celery, **kwargs: object) -> None:
    # This module loads with the `config` package, before Django's settings; the schedule reads them.
    from config.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@worker_ready.connect
def _load_symbols_on_start(sender: object, **kwargs: object) -> None:
    # A fresh install has no markets until the first sync; the periodic entry would wait ten minutes.
    app.send_task("trading.tasks.symbols_sync")


class BeatScheduler(PersistentScheduler):
    """Celery's default scheduler plus the beat role's heartbeat for /healthz (config/health.py)."""

    _beat_at = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self._beat_at >= 10:
            # config.health needs Django's settings and cache, which are not loaded with this module.
            from config.health import role_heartbeat

            try:
                role_heartbeat("beat")
                self._beat_at = now
            except Exception:  # the cache being down must not stop the schedule
                logging.getLogger(__name__).warning("beat: heartbeat not written", exc_info=True)
        # Wake at least every 10 s so the heartbeat keeps its pace between due tasks.
        return min(float(super().tick(*args, **kwargs)), 10.0)


def _task_name(sender: Any = None, request: Any = None, **kwargs: Any) -> str:
    return str(getattr(sender, "name", None) or getattr(request, "task", None) or "unknown")


def _count(outcome: str, sender: Any = None, request: Any = None) -> None:
    # The counters load on the first task, not with this module, which every process (web, commands)
    # imports with the `config` package.
    from config.metrics import task_outcome

    task_outcome(_task_name(sender, request), outcome)


@task_success.connect
def _count_success(sender: Any = None, **kwargs: Any) -> None:
    _count("success", sender)


@task_failure.connect
def _count_failure(sender: Any = None, **kwargs: Any) -> None:
    _count("failure", sender)


@task_retry.connect
def _count_retry(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    _count("retry", sender, request)


@task_revoked.connect
def _count_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    _count("revoked", sender, request)
