from __future__ import annotations

import pytest
import time_machine
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_locks_out_after_repeated_failures_even_with_the_right_password(client):
    user = UserFactory()
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": user.email, "password": "wrong-password-x"})
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_keeps_other_accounts_usable_during_a_lockout(client):
    victim, other = UserFactory(), UserFactory()
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": victim.email, "password": "wrong-password-x"})
    response = client.post(reverse("accounts:login"), {"username": other.email, "password": PASSWORD})
    assert response.status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=0.25)
def test_the_account_lock_page_says_how_long_and_sends_retry_after(client):
    user = UserFactory()
    for _ in range(3):
        client.post(reverse("accounts:login"), {"username": user.email, "password": "wrong-password-x"})
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    body = response.content.decode()
    assert "15 minutes" in body
    assert "reset your password" in body


def test_the_per_ip_throttle_page_has_its_own_words_and_wait(settings):
    settings.API_RATE_LIMIT_LOGIN = "2/min"
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    # The per-IP budget counts in fixed windows: a frozen clock keeps the test inside one.
    with time_machine.travel("2026-06-01 12:00:30Z", tick=False):
        for i in range(2):
            attacker.post(reverse("accounts:login"), {"username": f"v{i}@example.com", "password": "guess-1"})
        response = attacker.post(reverse("accounts:login"), {"username": "v9@example.com", "password": "g"})
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 60
    body = response.content.decode()
    assert "from your network" in body
    assert "second" in body or "minute" in body
    assert "reset your password" not in body
    assert "failed log-ins to this account" not in body
