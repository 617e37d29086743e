from __future__ import annotations

import pytest
from django.http import Http404

from accounts.models import User
from tests.trading.conftest import make_symbol
from trading import selectors
from trading.models import Fill, Order

pytestmark = pytest.mark.django_db


def an_order(user: User, **fields: object) -> Order:
    defaults: dict[str, object] = {
        "mode": "paper",
        "symbol": "SOLUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": 1,
        "price": 100,
        "status": "NEW",
    }
    defaults.update(fields)
    return Order.objects.create(user=user, client_order_id=f"t{Order.objects.count()}", **defaults)


def test_another_users_order_is_a_404(trader: User, other_trader: User) -> None:
    theirs = an_order(other_trader)
    with pytest.raises(Http404):
        selectors.order_get_for_user(user=trader, order_id=theirs.pk)
    assert selectors.order_get_for_user(user=other_trader, order_id=theirs.pk) == theirs


def test_order_and_fill_lists_are_scoped_to_their_owner(trader: User, other_trader: User) -> None:
    mine = an_order(trader)
    an_order(trader, status="FILLED", symbol="XRPUSDT")
    theirs = an_order(other_trader)
    Fill.objects.create(order=theirs, trade_id="x", price=1, qty=1, quote_qty=1)
    assert list(selectors.orders_for_user(user=trader, status="NEW")) == [mine]
    assert selectors.orders_for_user(user=trader, symbol="xrpusdt").count() == 1
    assert not selectors.fills_for_user(user=trader).exists()
    assert selectors.trading_mode_for_user(user=trader) == "paper"


def test_symbols_list_filters_by_quote_and_search(db: None) -> None:
    make_symbol("SOLUSDT")
    make_symbol("SOLUSDC", quote_asset="USDC", base_asset="SOL")
    make_symbol("XRPUSDT")
    assert [s.symbol for s in selectors.symbols_list(quote="usdt")] == ["SOLUSDT", "XRPUSDT"]
    assert [s.symbol for s in selectors.symbols_list(search="sol")] == ["SOLUSDC", "SOLUSDT"]
    assert selectors.symbol_get(symbol="solusdt").symbol == "SOLUSDT"
    with pytest.raises(Http404):
        selectors.symbol_get(symbol="NOPE")
