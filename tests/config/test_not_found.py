"""The one "not found" (config/errors.py): owned objects are read through get_owned_or_404, which
raises NotFound; pages show Django's 404 for it and the API its JSON 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import Http404

from accounts.notifications import selectors as notification_selectors
from accounts.notifications.models import Notification
from config.errors import BruteError, NotFound, get_owned_or_404
from tests.factories import UserFactory
from trading.sniper import selectors as sniper_selectors
from trading.sniper.models import Rule

pytestmark = pytest.mark.django_db


def test_not_found_is_the_apis_404_and_a_pages_404_at_once():
    error = NotFound("No such rule.")
    assert isinstance(error, BruteError)
    assert isinstance(error, Http404)
    assert (error.status, error.code) == (404, "not_found")


def test_someone_elses_object_reads_exactly_like_a_missing_one():
    owner, other = UserFactory(), UserFactory()
    rule = Rule.objects.create(user=owner, symbol="SOLUSDT", amount=Decimal(10))
    note = Notification.objects.create(user=owner, kind="error", title="t", body="b")

    assert sniper_selectors.rule_get(user=owner, rule_id=rule.pk) == rule
    for read in (
        lambda: sniper_selectors.rule_get(user=other, rule_id=rule.pk),
        lambda: notification_selectors.notification_get(user=other, notification_id=note.pk),
        lambda: get_owned_or_404(Rule.objects.all(), user=owner, pk=rule.pk + 1),
    ):
        with pytest.raises(NotFound) as caught:
            read()
        assert caught.value.status == 404


def test_a_page_for_someone_elses_rule_is_a_404(client):
    owner, other = UserFactory(), UserFactory()
    rule = Rule.objects.create(user=owner, symbol="SOLUSDT", amount=Decimal(10))
    client.force_login(other)
    assert client.get(f"/sniper/rules/{rule.pk}/").status_code == 404
    client.force_login(owner)
    assert client.get(f"/sniper/rules/{rule.pk}/").status_code == 200
