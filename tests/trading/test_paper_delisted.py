"""A paper market order on a symbol the exchange no longer lists: the feed has dropped its book, so the
order is refused in words and fills against nothing frozen."""

from __future__ import annotations

import pytest

from accounts.models import User
from config.errors import BruteError
from tests.trading.conftest import make_symbol
from trading import services
from trading.exchange.orderbook import LocalOrderBook
from trading.exchange.types import OrderBook
from trading.feed import local_books
from trading.models import Balance, Order
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db


def test_a_paper_market_order_on_a_delisted_symbol_is_refused_in_words(
    synced: SimExchangeThread, trader: User
) -> None:
    make_symbol("GONEUSDT")  # still in the Symbol table; the exchange no longer lists it

    async def never() -> OrderBook:
        raise AssertionError("a fresh book is only snapshotted on a depth push")

    # What the feed serves after the delisting: a fresh book, not in sync (no depth push comes).
    local_books.serve({"GONEUSDT": LocalOrderBook("GONEUSDT", never)})
    try:
        with pytest.raises(BruteError) as refused:
            services.order_place(
                user=trader, symbol="GONEUSDT", side="BUY", type="MARKET", quote_quantity="25"
            )
    finally:
        local_books.serve(None)

    assert (refused.value.code, refused.value.message) == (
        "order_rejected",
        "MEXC does not list the symbol GONEUSDT",
    )
    assert not Balance.objects.filter(user=trader, asset="GONE").exists()
    assert Order.objects.get(user=trader).status == Order.Status.REJECTED
