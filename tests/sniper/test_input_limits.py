"""Structured input in the HTML forms is bounded: nested JSON is never parsed, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from trading.sniper.models import Rule

pytestmark = pytest.mark.django_db


def test_json_nested_3000_deep_in_the_rule_form_is_never_parsed(client: Client, trader: User) -> None:
    client.force_login(trader)
    client.raise_request_exception = False

    response = client.post(
        "/sniper/rules/new/",
        {"any_new_listing": "on", "trigger": "listing_opens", "amount": "25", "order_type": "MARKET",
         "window_minutes": 5, "cooldown_seconds": 60, "take_profit": "[" * 3000 + "]" * 3000},
    )  # fmt: skip

    # The ladder is rows of fields now (tp_* inputs), so the old JSON field is ignored: never a 500, and
    # nothing of it reaches a saved rule.
    assert response.status_code < 500
    assert all(rule.take_profit == [] for rule in Rule.objects.all())
