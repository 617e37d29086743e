from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts.decorators import operator_required, trader_required
from accounts.models import Role
from accounts.services import admin_ensure_initial
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@trader_required
def _trade_view(request):
    return HttpResponse("traded")


@operator_required
def _operator_view(request):
    return HttpResponse("operated")


@pytest.mark.parametrize(
    ("role", "can_trade", "can_operate"),
    [(Role.VIEWER, False, False), (Role.TRADER, True, False), (Role.ADMIN, True, True)],
)
def test_it_enforces_roles_in_views(role, can_trade, can_operate):
    request = RequestFactory().get("/")
    request.user = UserFactory(role=role)
    for view, allowed in ((_trade_view, can_trade), (_operator_view, can_operate)):
        if allowed:
            assert view(request).status_code == 200
        else:
            with pytest.raises(PermissionDenied):
                view(request)


def test_only_admins_reach_the_django_admin(client):
    trader = UserFactory(role=Role.TRADER)
    client.force_login(trader)
    assert client.get(reverse("admin:index")).status_code == 302
    trader.role = Role.ADMIN
    trader.save()
    assert client.get(reverse("admin:index")).status_code == 200


def test_it_demotes_an_admin_out_of_the_admin_site():
    user = UserFactory(role=Role.ADMIN)
    assert user.is_staff
    assert user.is_superuser
    user.role = Role.VIEWER
    user.save()
    user.refresh_from_db()
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.can_trade


def test_it_creates_the_first_operator_once_with_a_generated_password():
    password = admin_ensure_initial(email="ops@example.com")
    assert password is not None
    assert len(password) >= 20
    assert admin_ensure_initial(email="ops@example.com") is None
    assert admin_ensure_initial(email="other@example.com") is None
    from accounts.models import User

    assert User.objects.get(email="ops@example.com").check_password(password)


def test_a_viewer_cannot_create_an_auto_buy_rule_or_change_risk_limits(client):
    from trading.models import RiskLimits
    from trading.sniper.models import Rule

    viewer = UserFactory(role=Role.VIEWER)
    client.force_login(viewer)
    rule = client.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "enabled": "on"},
    )  # fmt: skip
    risk = client.post("/sniper/risk/", {"max_order_value": "1000000", "max_open_positions": "99"})

    assert rule.status_code == 403
    assert risk.status_code == 403
    assert not Rule.objects.exists()
    assert not RiskLimits.objects.exists()
    assert client.get("/sniper/rules/").status_code == 200  # reading stays open to a viewer
