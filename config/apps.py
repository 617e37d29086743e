from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Makes config/ an app so site-wide commands (runbrute) live beside the settings."""

    name = "config"
    label = "brute_config"

    def ready(self) -> None:
        # In ready(): the app registry is complete only now; these modules import models.
        from django.db.models.signals import post_migrate

        from config import checks  # noqa: F401  (registers the start-up checks)
        from config.shadow.services import shadow_after_migrate

        # Sent once per app after `migrate`; sender=self makes it once per run.
        post_migrate.connect(shadow_after_migrate, sender=self)
