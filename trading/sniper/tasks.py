"""Celery faces of the sniper services: the periodic safety nets when no sniper process runs."""

from __future__ import annotations

from celery import shared_task

from trading.sniper import services
from trading.sniper.calendar import calendar_fetch


@shared_task(name="sniper.listings_watch", time_limit=120, soft_time_limit=100)
def listings_watch() -> int:
    coins = calendar_fetch()
    if coins:
        services.listings_from_calendar(coins=coins)
    opened = services.listings_from_symbols()
    for listing in opened:
        services.listing_fire(listing=listing)
    return len(opened)


@shared_task(name="sniper.positions_sync", time_limit=60, soft_time_limit=50)
def positions_sync() -> int:
    return services.positions_sync()


@shared_task(name="sniper.firings_resume", time_limit=120, soft_time_limit=100)
def firings_resume() -> int:
    return services.firings_resume()
