"""The last active admin cannot demote, deactivate or delete themself (or be demoted by anyone)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> tuple[Client, User]:
    admin = UserFactory(email="op@example.com", role=Role.ADMIN, display_name="Op")
    client = Client()
    client.force_login(admin)
    return client, admin


def change(client: Client, user: User, **changes: Any) -> Any:
    data = {"email": user.email, "display_name": user.display_name, "role": user.role, "is_active": "on"}
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)


def test_the_last_admin_cannot_demote_themself(admin_client):
    client, admin = admin_client
    response = change(client, admin, role=Role.TRADER)
    assert response.status_code == 200
    assert "last active admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN


def test_the_last_admin_cannot_deactivate_themself(admin_client):
    client, admin = admin_client
    response = change(client, admin, is_active=None)
    assert response.status_code == 200
    assert "last active admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_the_last_admin_cannot_be_deleted(admin_client):
    client, admin = admin_client
    url = reverse("admin:accounts_user_delete", args=[admin.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    assert "last active admin" in response.content.decode()
    assert User.objects.filter(pk=admin.pk).exists()
    bulk = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [admin.pk], "post": "yes"},
    )
    assert bulk.status_code == 200
    assert "last active admin" in bulk.content.decode()
    assert User.objects.filter(pk=admin.pk).exists()


def test_with_another_active_admin_a_demotion_is_saved(admin_client):
    client, admin = admin_client
    UserFactory(email="op2@example.com", role=Role.ADMIN)
    response = change(client, admin, role=Role.TRADER)
    assert response.status_code == 302, response.content.decode()[:2000]
    admin.refresh_from_db()
    assert admin.role == Role.TRADER


def test_an_inactive_admin_does_not_count(admin_client):
    client, admin = admin_client
    UserFactory(email="op3@example.com", role=Role.ADMIN, is_active=False)
    assert change(client, admin, role=Role.VIEWER).status_code == 200
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
