"""The `eager` fixture leaves Celery as it found it: reading Django's settings, so a later test's
`override_settings(CELERY_TASK_ALWAYS_EAGER=True)` still decides (tests/backups relies on it). The two
tests run in this order in one process (file order, as with `-p no:randomly`)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from config.celery import app


@pytest.mark.usefixtures("eager")
def test_the_eager_fixture_runs_tasks_in_process() -> None:
    assert app.conf.task_always_eager


def test_after_it_celery_still_follows_the_django_setting() -> None:
    assert not app.conf.task_always_eager
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
        assert app.conf.task_always_eager
    assert "task_always_eager" not in app.conf.changes
