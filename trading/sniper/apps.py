from django.apps import AppConfig


class SniperConfig(AppConfig):
    name = "trading.sniper"
    label = "sniper"
    verbose_name = "Listings, rules and positions"
    default_auto_field = "django.db.models.BigAutoField"
