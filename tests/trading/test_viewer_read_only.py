"""A viewer sees the settings, rule, risk and alert pages read-only, with one line saying why,
instead of forms that end on a bare 403; the writes behind them still answer 403."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Role, User
from tests.factories import UserFactory
from trading.models import RiskLimits
from trading.services import risk_limits_save
from trading.sniper.models import PriceAlert, Rule

pytestmark = pytest.mark.django_db

READ_ONLY = (
    "you can view this but not change it. Only a trader or an admin can; ask an admin for the trader role."
)


@pytest.fixture
def viewer() -> User:
    return UserFactory(role=Role.VIEWER)


def _page(client: Client, user: User, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_viewer_sees_the_settings_without_forms(client, viewer):
    page = _page(client, viewer, "/settings/")
    assert "You are trading <strong>PAPER</strong>" in page
    assert "No MEXC keys saved." in page
    assert "Your paper account starts with 10000 USDT." in page
    assert page.count(READ_ONLY) == 1  # once, above the mode, keys and paper account
    assert "Your role is <strong>viewer</strong>" in page
    for action in ("/settings/mode", "/settings/keys", "/settings/paper-reset"):
        assert f'action="{action}' not in page
    assert "Save mode" not in page
    assert "Reset paper account" not in page


def test_a_trader_still_gets_the_settings_forms(client):
    page = _page(client, UserFactory(role=Role.TRADER), "/settings/")
    assert READ_ONLY not in page
    assert "Save mode" in page
    assert "Check and save keys" in page
    assert "Reset paper account" in page


def test_the_settings_writes_still_refuse_a_viewer(client, viewer):
    client.force_login(viewer)
    for url in ("/settings/mode", "/settings/keys", "/settings/keys/delete", "/settings/paper-reset"):
        assert client.post(url, {"mode": "live"}).status_code == 403


def test_a_viewer_sees_the_risk_limits_but_no_form(client, viewer):
    risk_limits_save(user=viewer, max_order_value=Decimal("250.50000000"), max_open_positions=3)
    page = _page(client, viewer, "/sniper/risk/")
    assert READ_ONLY in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<dd>250.5</dd>" in page
    assert "<dd>3</dd>" in page
    assert page.count("no limit</span>") == 2  # exposure and daily loss are empty

    response = client.post("/sniper/risk/", {"max_order_value": "1"})
    assert response.status_code == 403
    assert RiskLimits.objects.get(user=viewer).max_order_value == Decimal("250.5")


def test_a_viewer_opening_a_new_rule_is_told_why_there_is_no_form(client, viewer):
    page = _page(client, viewer, "/sniper/rules/new/")
    assert READ_ONLY in page
    assert "Take-profit ladder" not in page
    assert client.post("/sniper/rules/new/", {"name": "x"}).status_code == 403
    assert not Rule.objects.exists()


def test_a_viewer_sees_their_alerts_but_cannot_add_or_change_one(client, viewer):
    PriceAlert.objects.create(user=viewer, symbol="SOLUSDT", kind="above", value=Decimal("150"))
    page = _page(client, viewer, "/sniper/alerts/")
    assert READ_ONLY in page
    assert "SOLUSDT" in page
    assert "armed" in page
    assert "Add alert" not in page
    assert ">Delete</button>" not in page
    assert client.post("/sniper/alerts/", {"symbol": "BTCUSDT"}).status_code == 403
    assert PriceAlert.objects.count() == 1


def test_a_trader_still_gets_the_sniper_forms(client):
    trader = UserFactory(role=Role.TRADER)
    assert "Add alert" in _page(client, trader, "/sniper/alerts/")
    assert READ_ONLY not in _page(client, trader, "/sniper/risk/")
    assert "Take-profit ladder" in _page(client, trader, "/sniper/rules/new/")
