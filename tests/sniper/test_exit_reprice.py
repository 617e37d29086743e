"""An exit limit priced from a book that then moves is cancelled and re-priced at the current book."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from tests.sniper.conftest import open_now, rule_on
from trading.models import Order
from trading.simexchange.testing import SimExchangeThread
from trading.sniper import services
from trading.sniper.models import Listing, Position, PositionExit

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stop_loss_limit_left_behind_by_the_market_is_cancelled_and_sent_again(
    mexc: SimExchangeThread, live_trader: User, listing_factory: Callable[..., Listing]
) -> None:
    listing = listing_factory(price="1", market_orders=False)  # exits must be limits (30051)
    rule_on(live_trader, amount=Decimal("50"), stop_loss_pct=Decimal("10"))
    open_now(mexc, listing)
    [firing] = services.listing_fire(listing=listing)
    assert firing.status == "done"
    pos = Position.objects.get(user=live_trader, symbol=listing.symbol, status="open")

    with override_settings(SNIPER_EXIT_REPRICE_MS=60_000):
        mexc.set_price(listing.symbol, pos.avg_entry * Decimal("0.8"))  # through the stop
        # The exit is priced from this book; the market halves before the order arrives.
        mexc.move_after_next_book(listing.symbol, pos.avg_entry * Decimal("0.4"))
        assert services.monitor_tick(use_feed=False)["exits"] == 1
        [first] = PositionExit.objects.filter(position=pos)
        assert first.kind == "stop_loss"
        assert first.order is not None
        assert first.order.type == "LIMIT"
        assert first.order.status == Order.Status.NEW  # resting above a market that fell away

        assert services.monitor_tick(use_feed=False)["exits"] == 0  # within the bound: left alone
        # A minute on: the order's clock is moved back rather than the test waiting for it.
        Order.objects.filter(pk=first.order.pk).update(created=timezone.now() - timedelta(seconds=61))
        assert services.monitor_tick(use_feed=False)["exits"] == 1  # past it: cancelled, re-priced

    first.order.refresh_from_db()
    assert first.order.status == Order.Status.CANCELED
    second = PositionExit.objects.filter(position=pos).exclude(pk=first.pk).get()
    assert second.kind == "stop_loss"
    assert second.order is not None
    assert second.order.price < first.order.price
    pos.refresh_from_db()
    assert pos.status == "closed"
