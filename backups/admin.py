from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from backups import selectors
from backups.errors import BackupError
from backups.models import BackupRun


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    """Run history, under the list of backups read from the backup storage (the source of truth)."""

    change_list_template = "backups/admin_change_list.html"
    list_display = ("created_at", "action", "incremental", "status", "backup_id", "phase", "percent", "error")
    list_filter = ("action", "status")
    search_fields = ("backup_id", "note", "error")
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = dict(extra_context or {})
        try:
            context["backup_rows"] = selectors.backup_rows()
        except BackupError as exc:
            context["backup_error"] = str(exc)
        return super().changelist_view(request, context)  # type: ignore[return-value]
