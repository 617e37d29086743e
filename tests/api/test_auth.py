from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import RefreshToken
from tests.api.conftest import assert_error, bearer
from tests.factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def obtain(api: Client, email: str, password: str = PASSWORD):
    return api.post(
        "/api/v1/auth/token", {"email": email, "password": password}, content_type="application/json"
    )


def refresh(api: Client, token: str):
    return api.post("/api/v1/auth/refresh", {"refresh": token}, content_type="application/json")


def test_it_issues_an_access_and_a_refresh_token_for_a_correct_password(api, owner):
    response = obtain(api, "OWNER@example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    me = api.get("/api/v1/me", headers=bearer(body["access"]))
    assert me.status_code == 200
    assert me.json()["email"] == "owner@example.com"
    assert me.json()["auth"] == {"kind": "access", "scopes": ["read", "trade"]}


def test_it_rejects_a_wrong_password_with_not_authenticated(api, owner):
    error = assert_error(obtain(api, owner.email, "wrong password!"), 401, "not_authenticated")
    assert "incorrect" in error["message"]


def test_it_rejects_an_unknown_email_the_same_way(api, db):
    assert_error(obtain(api, "nobody@example.com"), 401, "not_authenticated")


def test_failed_passwords_lock_the_login_out_like_the_login_page(api, owner, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert_error(obtain(api, owner.email, "wrong password!"), 401, "not_authenticated")
    locked = obtain(api, owner.email, "wrong password!")
    assert_error(locked, 429, "locked_out")
    assert int(locked["Retry-After"]) > 0
    # Even the right password is refused while locked out.
    assert_error(obtain(api, owner.email), 429, "locked_out")


def test_an_expired_access_token_is_not_authenticated(api, owner):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        access = obtain(api, owner.email).json()["access"]
        assert api.get("/api/v1/me", headers=bearer(access)).status_code == 200
        clock.shift(timedelta(minutes=15, seconds=1))
        error = assert_error(api.get("/api/v1/me", headers=bearer(access)), 401, "not_authenticated")
    assert "expired" in error["message"]


def test_a_tampered_access_token_is_not_authenticated(api, owner):
    access = obtain(api, owner.email).json()["access"]
    assert_error(api.get("/api/v1/me", headers=bearer(access[:-2] + "xx")), 401, "not_authenticated")


def test_a_refresh_token_is_not_an_access_token(api, owner):
    pair = obtain(api, owner.email).json()
    assert_error(api.get("/api/v1/me", headers=bearer(pair["refresh"])), 401, "not_authenticated")
    assert_error(refresh(api, pair["access"]), 401, "not_authenticated")


def test_refresh_rotates_the_refresh_token(api, owner):
    first = obtain(api, owner.email).json()
    second = refresh(api, first["refresh"])
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh"] != first["refresh"]
    assert api.get("/api/v1/me", headers=bearer(pair["access"])).status_code == 200
    assert refresh(api, pair["refresh"]).status_code == 200
    assert RefreshToken.objects.filter(user=owner).count() == 3
    assert RefreshToken.objects.filter(user=owner, revoked_at__isnull=True).count() == 1


def test_reusing_a_spent_refresh_token_revokes_the_whole_login(api, owner):
    first = obtain(api, owner.email).json()
    second = refresh(api, first["refresh"]).json()
    assert_error(refresh(api, first["refresh"]), 401, "not_authenticated")
    # The copy was replayed: the legitimate holder's newer token dies too.
    assert_error(refresh(api, second["refresh"]), 401, "not_authenticated")
    assert set(RefreshToken.objects.values_list("revoked_reason", flat=True)) == {"rotated", "reused"}


def test_revoke_ends_the_refresh_token_family(api, owner):
    pair = obtain(api, owner.email).json()
    assert (
        api.post(
            "/api/v1/auth/revoke", {"token": pair["refresh"]}, content_type="application/json"
        ).status_code
        == 204
    )
    assert_error(refresh(api, pair["refresh"]), 401, "not_authenticated")


def test_revoke_answers_204_for_an_unknown_token(api, db):
    response = api.post("/api/v1/auth/revoke", {"token": "not-a-token"}, content_type="application/json")
    assert response.status_code == 204


def test_an_expired_refresh_token_cannot_be_refreshed(api, owner):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        pair = obtain(api, owner.email).json()
        clock.shift(timedelta(days=15))
        assert_error(refresh(api, pair["refresh"]), 401, "not_authenticated")


def test_a_deactivated_user_loses_access(api, owner):
    pair = obtain(api, owner.email).json()
    owner.is_active = False
    owner.save()
    assert_error(api.get("/api/v1/me", headers=bearer(pair["access"])), 401, "not_authenticated")
    assert_error(refresh(api, pair["refresh"]), 401, "not_authenticated")


def test_no_credentials_is_not_authenticated_with_a_bearer_challenge(api, db):
    response = api.get("/api/v1/me")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_browser_session_works_for_reads(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["auth"]["kind"] == "session"


def test_the_browser_session_needs_csrf_for_writes(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    payload = {"name": "laptop", "scopes": ["read"]}
    assert_error(
        client.post("/api/v1/auth/tokens", payload, content_type="application/json"), 403, "forbidden"
    )
    csrf = "a" * 32
    client.cookies["csrftoken"] = csrf
    response = client.post(
        "/api/v1/auth/tokens", payload, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 201
