from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from backups.crypto import key_settings_problem
        from backups.inuse import hold_shared

        # Where the backup settings are first read: two different keys refuse the start, one line.
        problem = key_settings_problem()
        if problem:
            raise ImproperlyConfigured(problem)

        # Every process of the app says it has the database open, so a restore in place can refuse.
        hold_shared()
