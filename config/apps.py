from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Makes config/ an app so site-wide commands (runbrute) live beside the settings."""

    name = "config"
    label = "brute_config"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the start-up checks)
