from django.contrib import admin

from backups.models import BackupRun


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    """Run history; the backups themselves are listed from the storage on /backups/."""

    list_display = ("created_at", "action", "incremental", "status", "backup_id", "phase", "percent", "error")
    list_filter = ("action", "status")
    search_fields = ("backup_id", "note", "error")
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
