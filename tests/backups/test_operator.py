"""The operator page, the Celery tasks and the beat schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import Role
from backups import selectors, services, tasks
from backups.models import BackupRun
from config.schedule import beat_schedule
from tests.backups.conftest import Site
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.ADMIN))
    return client


def test_only_operators_see_the_backups_page(client: Client, site: Site) -> None:
    client.force_login(UserFactory(role=Role.TRADER))

    assert client.get(reverse("backups:index")).status_code == 403


def test_the_page_lists_backups_with_status_and_verification(operator_client: Client, site: Site) -> None:
    summary = services.backup_create(note="nightly")
    services.backup_run_now(action=BackupRun.Action.VERIFY)

    page = operator_client.get(reverse("backups:index")).content.decode()

    assert summary.id in page
    assert "ok" in page
    assert reverse("backups:download", args=[summary.id]) in page


def test_an_operator_starts_a_backup_and_watches_it(
    operator_client: Client, site: Site, django_capture_on_commit_callbacks: object
) -> None:
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = operator_client.post(reverse("backups:start"), {"kind": "full", "note": "by hand"})
    run = BackupRun.objects.get()
    fragment = operator_client.get(response["Location"], headers={"HX-Request": "true"})

    assert run.status == BackupRun.Status.SUCCEEDED
    assert run.backup_id
    assert "<html" not in fragment.content.decode()
    assert run.backup_id in fragment.content.decode()


def test_an_operator_starts_a_verification_of_every_backup(
    operator_client: Client, site: Site, django_capture_on_commit_callbacks: object
) -> None:
    summary = services.backup_create()
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        operator_client.post(reverse("backups:start"), {"kind": "verify"})

    run = BackupRun.objects.get()
    assert run.action == BackupRun.Action.VERIFY
    assert run.result["backups"][summary.id]["ok"]


def test_the_admin_lists_backups_from_the_storage(operator_client: Client, site: Site) -> None:
    summary = services.backup_create()

    page = operator_client.get(reverse("admin:backups_backuprun_changelist")).content.decode()

    assert summary.id in page
    assert reverse("backups:download", args=[summary.id]) in page


def test_a_running_backup_polls_every_second(operator_client: Client, site: Site) -> None:
    run = BackupRun.objects.create(
        action=BackupRun.Action.CREATE, status=BackupRun.Status.RUNNING, done=5, total=10
    )

    fragment = operator_client.get(reverse("backups:run", args=[run.pk]), headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    assert 'value="50"' in fragment.content.decode()


def test_an_operator_downloads_an_archive(operator_client: Client, site: Site) -> None:
    summary = services.backup_create()

    response = operator_client.get(reverse("backups:download", args=[summary.id]))

    assert b"".join(response.streaming_content) == (site.backups / summary.archive).read_bytes()  # type: ignore[attr-defined]
    assert (
        operator_client.get(reverse("backups:download", args=["20990101T000000Z-000000"])).status_code == 404
    )


def test_scheduled_tasks_run_the_services(site: Site) -> None:
    assert tasks.backup_scheduled_full() == "succeeded"
    assert tasks.backup_scheduled_incremental() == "succeeded"
    assert tasks.backup_scheduled_verify() == "succeeded"
    assert tasks.backup_scheduled_prune() == "succeeded"
    assert [r.action for r in BackupRun.objects.order_by("created_at")] == [
        "create",
        "create",
        "verify",
        "prune",
    ]


def test_a_failed_scheduled_backup_emails_the_operators(site: Site) -> None:
    UserFactory(role=Role.ADMIN, email="ops@example.com")
    UserFactory(role=Role.TRADER, email="trader@example.com")
    site.db.unlink()

    assert tasks.backup_scheduled_full() == "failed"

    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert f"the database file {site.db} does not exist" in message.body


def test_a_scheduled_incremental_with_no_backup_yet_takes_a_full_one_and_says_so(
    operator_client: Client, site: Site
) -> None:
    UserFactory(role=Role.ADMIN, email="ops@example.com")

    assert tasks.backup_scheduled_incremental() == "succeeded"

    run = BackupRun.objects.get()
    [listed] = selectors.backup_list()
    assert listed.summary is not None
    assert listed.summary.kind == "full"
    assert run.backup_id == listed.id
    assert not run.incremental
    assert run.result["kind"] == "full"
    assert run.result["note"] == "No backup yet to build an incremental on: took a full backup instead."
    assert run.result["note"] in operator_client.get(reverse("backups:run", args=[run.pk])).content.decode()
    assert mail.outbox == []

    assert tasks.backup_scheduled_incremental() == "succeeded"
    newest = BackupRun.objects.order_by("-pk").first()
    assert newest is not None
    assert newest.incremental
    assert newest.result == {"size": newest.result["size"], "kind": "incremental"}


def test_an_incremental_started_by_hand_with_no_backup_yet_still_fails(
    operator_client: Client, site: Site, django_capture_on_commit_callbacks: object
) -> None:
    with override_settings(CELERY_TASK_ALWAYS_EAGER=True), django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        operator_client.post(reverse("backups:start"), {"kind": "incremental"})

    run = BackupRun.objects.get()
    assert run.status == BackupRun.Status.FAILED
    assert "create a full backup first" in run.error
    assert selectors.backup_list() == []


def test_a_damaged_backup_found_by_the_weekly_verify_is_reported(site: Site, tmp_path: Path) -> None:
    UserFactory(role=Role.ADMIN, email="ops@example.com")
    summary = services.backup_create()
    archive = site.backups / summary.archive
    data = archive.read_bytes()
    archive.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))

    assert tasks.backup_scheduled_verify() == "failed"

    assert summary.id in mail.outbox[0].body


def test_a_redelivered_task_does_not_run_twice(site: Site) -> None:
    run = services.backup_run_now(action=BackupRun.Action.CREATE)

    again = services.backup_run_execute(run_id=run.pk)

    assert again.backup_id == run.backup_id
    assert len(list(site.backups.glob("*.json"))) == 1


def test_the_beat_schedule_declares_every_backup_job() -> None:
    with override_settings(BACKUP_FULL_CRON="0 2 * * *"):
        schedule = beat_schedule()

    assert schedule["backups-full"]["task"] == "backups.scheduled_full"
    assert schedule["backups-full"]["schedule"].hour == {2}
    assert {"backups-incremental", "backups-prune", "backups-verify"} <= set(schedule)


def test_a_failed_backup_also_reaches_the_operators_inbox(site: Site) -> None:
    from accounts.notifications.models import Notification

    admin = UserFactory(role=Role.ADMIN, email="ops2@example.com")
    site.db.unlink()
    assert tasks.backup_scheduled_full() == "failed"
    notice = Notification.objects.get(user=admin)
    assert notice.kind == "backup_failed"
    assert "does not exist" in notice.body
