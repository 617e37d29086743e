from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class BackupsConfig(AppConfig):
    name = "backups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported once the apps are loaded (models and settings are read through them).
        from backups.crypto import key_settings_problem
        from backups.inuse import hold_shared

        # Where the backup settings are first read: two different keys refuse the start, one line.
        problem = key_settings_problem()
        if problem:
            raise ImproperlyConfigured(problem)

        # Every process of the app says it has the database open, so a restore in place can refuse.
        hold_shared()
