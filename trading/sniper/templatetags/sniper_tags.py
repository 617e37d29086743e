from __future__ import annotations

from django import template

from trading.sniper.models import Listing
from trading.sniper.selectors import listings_upcoming

register = template.Library()


@register.simple_tag
def upcoming_listings(limit: int = 6) -> list[Listing]:
    return list(listings_upcoming(limit=limit))
