"""Many API clients placing paper orders at once, with a cancel-all in the middle: no request fails,
and every balance and lock equals what the recorded fills and open orders say, to the last digit.

`orders_storm` is reusable against another database (the sqld variant runs it with fewer writers):
it only needs the default database migrated and the bundled exchange synced.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from accounts.models import Role, User
from accounts.tokens import api_token_create
from tests.factories import UserFactory
from trading import services
from trading.exchange.types import OrderBook
from trading.exchanges import public_client, run
from trading.models import Balance, Fill, Mode, Order, Symbol
from trading.simexchange.testing import SimExchangeThread

SYMBOL = "SOLUSDT"
START_BASE = Decimal(100)


@dataclass
class Storm:
    """What the clients saw: every answer's status, and each failure's body."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: int, body: str) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 400:
                self.failures.append(f"{status} {body[:200]}")


def order_bodies(book: OrderBook, symbol: Symbol, count: int) -> list[dict[str, str]]:
    """Market and limit orders on both sides, in turn; limits rest a few ticks off the book."""
    tick = Decimal(1).scaleb(-symbol.price_precision)
    below = book.bids[0].price - 5 * tick
    above = book.asks[0].price + 5 * tick
    kinds = [
        {"side": "BUY", "type": "MARKET", "quote_quantity": "5"},
        {"side": "SELL", "type": "MARKET", "quantity": "0.05"},
        {"side": "BUY", "type": "LIMIT", "quantity": "0.05", "price": f"{below:f}"},
        {"side": "SELL", "type": "LIMIT", "quantity": "0.05", "price": f"{above:f}"},
    ]
    return [{"symbol": symbol.symbol, **kinds[i % len(kinds)]} for i in range(count)]


def expected_balances(
    user: User, start: dict[str, Decimal], symbol: Symbol
) -> dict[str, tuple[Decimal, Decimal]]:
    """(free, locked) per asset from the start amounts, every recorded fill and every open order."""
    total = defaultdict(Decimal, start)
    locked: defaultdict[str, Decimal] = defaultdict(Decimal)
    base, quote = symbol.base_asset, symbol.quote_asset
    for fill in Fill.objects.filter(order__user=user).select_related("order"):
        if fill.order.side == "BUY":
            total[quote] -= fill.quote_qty
            total[base] += fill.qty - fill.commission
        else:
            total[base] -= fill.qty
            total[quote] += fill.quote_qty - fill.commission
    for order in Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES):
        assert order.quantity is not None
        assert order.price is not None
        remaining = order.quantity - order.executed_qty
        if order.side == "BUY":
            locked[quote] += order.price * remaining
        else:
            locked[base] += remaining
    return {asset: (total[asset] - locked[asset], locked[asset]) for asset in total}


def actual_balances(user: User) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in Balance.objects.filter(user=user, mode=Mode.PAPER)}


def orders_storm(*, clients: int, orders: int, users: int) -> tuple[Storm, list[User]]:
    """`clients` threads, spread over `users` paper traders, place `orders` orders through the API;
    once half are placed, each trader's first client cancels all of that trader's open orders."""
    symbol = Symbol.objects.get(symbol=SYMBOL)
    book = run(public_client, lambda exchange: exchange.depth(SYMBOL, limit=20))
    traders = [UserFactory(role=Role.TRADER) for _ in range(users)]
    tokens = []
    for trader in traders:
        services.trading_account_get_or_create(user=trader)
        Balance.objects.create(user=trader, mode=Mode.PAPER, asset=symbol.base_asset, free=START_BASE)
        tokens.append(api_token_create(user=trader, name="storm", scopes=["read", "trade"])[1])
    storm = Storm()
    bodies = order_bodies(book, symbol, orders)
    placed = Counter[str]()
    half = threading.Event()
    lock = threading.Lock()

    def client(index: int) -> None:
        token = tokens[index % users]
        http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            for body in bodies[index::clients]:
                answer = http.post("/api/v1/orders", body, content_type="application/json")
                storm.saw(answer.status_code, answer.content.decode())
                with lock:
                    placed["n"] += 1
                    if placed["n"] >= orders // 2:
                        half.set()
            if index < users:  # one cancel-all per trader, while the other clients still place orders
                half.wait()
                answer = http.post("/api/v1/orders/cancel-all", {}, content_type="application/json")
                storm.saw(answer.status_code, answer.content.decode())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return storm, traders


def check_storm(storm: Storm, traders: list[User], orders: int) -> None:
    assert storm.failures == []
    symbol = Symbol.objects.get(symbol=SYMBOL)
    placed = Order.objects.filter(user__in=traders)
    assert placed.count() == orders
    assert not placed.filter(status__in=[Order.Status.PENDING, Order.Status.REJECTED]).exists()
    assert placed.filter(status=Order.Status.CANCELED).exists()  # the cancel-all met resting orders
    for trader in traders:
        account = services.trading_account_get_or_create(user=trader)
        start = {symbol.quote_asset: account.paper_starting_balance, symbol.base_asset: START_BASE}
        assert actual_balances(trader) == expected_balances(trader, start, symbol)


Storming = Callable[..., tuple[Storm, list[User]]]


@pytest.fixture
def api_unthrottled(settings: Any) -> None:
    settings.API_RATE_LIMIT_IP = "1000000/min"
    settings.API_RATE_LIMIT_TOKEN = "1000000/min"


# Each order fetches the book from the bundled exchange over HTTP in this same process: on a busy
# 2-core machine the thousand orders take several minutes, beyond the suite's default timeout.
@pytest.mark.timeout(1800)
@pytest.mark.django_db(transaction=True)
def test_twenty_clients_place_a_thousand_paper_orders_without_an_error(
    synced: SimExchangeThread, api_unthrottled: None
) -> None:
    storm, traders = orders_storm(clients=20, orders=1000, users=5)

    assert storm.statuses[201] == 1000
    check_storm(storm, traders, 1000)
