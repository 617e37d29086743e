from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backups.inuse import hold_shared

        # Every process of the app says it has the database open, so a restore in place can refuse.
        hold_shared()
