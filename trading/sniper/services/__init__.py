"""Writes of the sniper: listings, rules and firings, positions and exits, price alerts."""

from trading.sniper.services.alerts import alert_create, alert_delete, alert_rearm, alerts_check
from trading.sniper.services.listings import (
    listing_transition,
    listings_from_calendar,
    listings_from_symbols,
    symbol_refresh,
)
from trading.sniper.services.monitor import monitor_tick
from trading.sniper.services.positions import (
    position_apply_fill,
    position_close,
    position_protect,
    positions_clear,
    positions_monitor,
    positions_sync,
)
from trading.sniper.services.rules import (
    firing_execute,
    firings_resume,
    listing_claim,
    listing_fire,
    rule_delete,
    rule_save,
)

__all__ = [
    "alert_create",
    "alert_delete",
    "alert_rearm",
    "alerts_check",
    "firing_execute",
    "firings_resume",
    "listing_claim",
    "listing_fire",
    "listing_transition",
    "listings_from_calendar",
    "listings_from_symbols",
    "monitor_tick",
    "position_apply_fill",
    "position_close",
    "position_protect",
    "positions_clear",
    "positions_monitor",
    "positions_sync",
    "rule_delete",
    "rule_save",
    "symbol_refresh",
]
