from django.apps import AppConfig


class SniperConfig(AppConfig):
    name = "trading.sniper"
    label = "sniper"
    verbose_name = "Listings, rules and positions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: models load only once the app registry is ready.
        from trading.positions import PositionBook, position_book_register
        from trading.sniper.selectors import open_position_costs, realised_since
        from trading.sniper.services.positions import position_apply_fill

        book = PositionBook(
            apply_fill=lambda fill: position_apply_fill(fill=fill),
            realised_since=lambda user, since: realised_since(user=user, since=since),
            open_costs=lambda user, mode: open_position_costs(user=user, mode=mode),
        )
        position_book_register(book)
