"""Queueing a Celery task by its registered name.

Services queue their own app's tasks through `task_queue`: a tasks module imports its services, so a
service importing its tasks module back would make an import cycle. This module imports no app code,
and `celery.current_app` is the project's app (config/__init__.py creates it before anything runs).
"""

from __future__ import annotations

import functools

from celery import current_app


@functools.cache
def _tasks_registered() -> None:
    # The worker imports every app's tasks module at start; a web process has imported none of them.
    current_app.autodiscover_tasks(force=True)


def task_queue(name: str, *args: object) -> None:
    """Queues the task registered under `name` (run at once where CELERY_TASK_ALWAYS_EAGER is set)."""
    _tasks_registered()
    current_app.tasks[name].delay(*args)
