from django.apps import AppConfig


class SniperConfig(AppConfig):
    name = "trading.sniper"
    label = "sniper"
    verbose_name = "Listings, rules and positions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: models load only once the app registry is ready.
        from trading.services.risk import PositionReads, risk_positions_register
        from trading.sniper.selectors import open_position_costs, realised_since

        risk_positions_register(PositionReads(realised_since=realised_since, open_costs=open_position_costs))
