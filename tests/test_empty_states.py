"""A page with nothing to list yet says so in one line that tells the user what to do next (and links
there), instead of an empty table or a bare "None."."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory
from trading.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(client: Client) -> User:
    user: User = UserFactory()
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/", 'No open orders. <a href="/markets/">Pick a market to place one.</a>'),
        ("/", 'No listing announced. <a href="/sniper/rules/new/">Create an auto-buy rule</a>'),
        ("/orders/", 'No open orders. <a href="/markets/">Pick a market to place one.</a>'),
        ("/orders/", 'No orders yet. <a href="/markets/">Pick a market and place your first one.</a>'),
        ("/orders/?side=SELL", 'No orders match these filters. <a href="/orders/">Clear them.</a>'),
        ("/sniper/rules/", 'No rules yet. <a href="/sniper/rules/new/">Create one</a>'),
        ("/sniper/rules/", "No rule has fired yet. Create a rule above; its firings show here."),
        ("/sniper/alerts/", "No alerts yet. Add one with the form above"),
        ("/sniper/listings/", "No listing opened in the last seven days. Upcoming ones show above"),
        ("/accounts/tokens/", "No active tokens. Create one above for a script to call the API as you."),
    ],
)
def test_an_empty_list_says_what_to_do_next(client: Client, trader: User, url: str, words: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert words in response.content.decode()


def _order(user: User, status: str) -> Order:
    return Order.objects.create(
        user=user, mode="paper", symbol="SOLUSDT", side="BUY", type="LIMIT", client_order_id=f"t-{status}",
        status=status, price=1, quantity=1,
    )  # fmt: skip


def test_an_orders_empty_fills_say_whether_it_may_still_fill(client: Client, trader: User) -> None:
    resting = client.get(f"/orders/{_order(trader, 'NEW').pk}/").content.decode()
    canceled = client.get(f"/orders/{_order(trader, 'CANCELED').pk}/").content.decode()

    assert "No fills yet: the order waits on the book. Cancel it above" in resting
    assert "No fills: the order closed without trading." in canceled
    assert '<a href="/markets/SOLUSDT/">Place a new one on SOLUSDT</a>' in canceled
    assert "waits on the book" not in canceled
