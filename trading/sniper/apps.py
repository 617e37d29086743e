from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from accounts.models import User


class SniperConfig(AppConfig):
    name = "trading.sniper"
    label = "sniper"
    verbose_name = "Listings, rules and positions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: models load only once the app registry is ready.
        from trading.positions import PositionBook, position_book_register
        from trading.sniper.selectors import open_position_costs, realised_since
        from trading.sniper.services.positions import position_apply_fill, positions_clear, positions_sync

        # Risk limits read positions right after the user's last order: its fills are folded in
        # first (the periodic sync would fold them seconds later, and back-to-back buys would pass
        # an exposure limit meanwhile).
        def realised(user: User, since: datetime) -> Decimal:
            positions_sync(user_id=user.pk)
            return realised_since(user=user, since=since)

        def open_costs(user: User, mode: str) -> dict[str, Decimal]:
            positions_sync(user_id=user.pk)
            return open_position_costs(user=user, mode=mode)

        book = PositionBook(
            apply_fill=lambda fill: position_apply_fill(fill=fill),
            realised_since=realised,
            open_costs=open_costs,
            clear=lambda user, mode: positions_clear(user=user, mode=mode),
        )
        position_book_register(book)
