from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class BackupRun(models.Model):
    """One run of a backup action, for progress and history in the UI.

    Not the record of which backups exist: that is the backup storage (a restore rewrites this
    table along with the rest of the database).
    """

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        VERIFY = "verify", "Verify"
        PRUNE = "prune", "Prune"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    action = models.CharField(max_length=10, choices=Action.choices)
    incremental = models.BooleanField(default=False)
    encrypt = models.BooleanField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    backup_id = models.CharField(max_length=40, blank=True)
    phase = models.CharField(max_length=40, blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    result: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["action", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.backup_id or self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        return min(100, int(self.done * 100 / self.total)) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
