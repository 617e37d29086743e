"""The Celery app. Every periodic schedule is declared in config/schedule.py."""

import os

from celery import Celery
from celery.signals import worker_ready

import config.broker  # noqa: F401  (registers the brutefs:// transport of the no-Redis default)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("brute")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_schedule(sender: Celery, **kwargs: object) -> None:
    from config.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@worker_ready.connect
def _load_symbols_on_start(sender: object, **kwargs: object) -> None:
    # A fresh install has no markets until the first sync; the periodic entry would wait ten minutes.
    app.send_task("trading.tasks.symbols_sync")
