from __future__ import annotations

import pytest
from django.test import override_settings
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
