"""Sessions that end: a password change or reset, or "sign out everywhere", ends API logins too;
the HTML log-in has a per-IP budget and takes the email in any case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from accounts.tokens import api_token_create, token_pair_issue
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another-horse-battery-7"


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any, tmp_path: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    # The per-IP budget counts in fixed windows: a frozen clock keeps a test inside one.
    with time_machine.travel("2026-06-01 12:00:30Z", tick=False):
        yield


def refresh(client: Client, token: str) -> int:
    response = client.post("/api/v1/auth/refresh", {"refresh": token}, content_type="application/json")
    return response.status_code


def me(client: Client, secret: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_password(client: Client, **extra: str) -> Any:
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, **extra}
    return client.post(reverse("accounts:password_change"), data)


def test_a_password_change_ends_refresh_tokens_and_personal_tokens(client: Client) -> None:
    user = UserFactory()
    pair = token_pair_issue(user=user)
    _, secret = api_token_create(user=user, name="bot", scopes=["read"])
    browser = logged_in(user)
    other_browser = logged_in(user)

    assert change_password(browser).status_code == 302

    assert refresh(client, pair.refresh) == 401
    assert me(client, secret) == 401
    assert other_browser.get(reverse("accounts:tokens")).status_code == 302  # to the log-in
    assert browser.get(reverse("accounts:tokens")).status_code == 200


def test_a_password_change_can_keep_api_logins_when_the_user_says_so(client: Client) -> None:
    user = UserFactory()
    pair = token_pair_issue(user=user)
    _, secret = api_token_create(user=user, name="bot", scopes=["read"])

    assert change_password(logged_in(user), keep_signed_in="on").status_code == 302

    assert refresh(client, pair.refresh) == 200
    assert me(client, secret) == 200


def test_a_password_reset_ends_refresh_tokens_and_personal_tokens(client: Client) -> None:
    user = UserFactory()
    pair = token_pair_issue(user=user)
    _, secret = api_token_create(user=user, name="bot", scopes=["read"])
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[-1].body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert refresh(client, pair.refresh) == 401
    assert me(client, secret) == 401


def test_sign_out_everywhere_ends_other_sessions_and_api_logins_but_not_this_one(client: Client) -> None:
    user = UserFactory()
    pair = token_pair_issue(user=user)
    _, secret = api_token_create(user=user, name="bot", scopes=["read"])
    here, elsewhere = logged_in(user), logged_in(user)

    response = here.post(reverse("accounts:sign_out_everywhere"))

    assert response.status_code == 302
    assert here.get(reverse("accounts:tokens")).status_code == 200
    assert elsewhere.get(reverse("accounts:tokens")).status_code == 302
    assert refresh(client, pair.refresh) == 401
    assert me(client, secret) == 401


def test_sign_out_everywhere_can_keep_personal_tokens(client: Client) -> None:
    user = UserFactory()
    pair = token_pair_issue(user=user)
    _, secret = api_token_create(user=user, name="bot", scopes=["read"])

    logged_in(user).post(reverse("accounts:sign_out_everywhere"), {"keep_api_tokens": "on"})

    assert refresh(client, pair.refresh) == 401
    assert me(client, secret) == 200


def test_an_operator_signs_a_user_out_everywhere(client: Client) -> None:
    victim = UserFactory()
    operator = UserFactory(role=Role.ADMIN)
    pair = token_pair_issue(user=victim)
    _, secret = api_token_create(user=victim, name="bot", scopes=["read"])
    victim_browser, operator_browser = logged_in(victim), logged_in(operator)

    response = operator_browser.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "sign_out_everywhere", "_selected_action": [victim.pk]},
    )

    assert response.status_code == 302
    assert victim_browser.get(reverse("accounts:tokens")).status_code == 302
    assert refresh(client, pair.refresh) == 401
    assert me(client, secret) == 401
    assert operator_browser.get(reverse("accounts:tokens")).status_code == 200


def test_an_operator_setting_a_password_ends_the_users_api_logins(client: Client) -> None:
    victim = UserFactory()
    pair = token_pair_issue(user=victim)
    operator_browser = logged_in(UserFactory(role=Role.ADMIN))

    response = operator_browser.post(
        reverse("admin:auth_user_password_change", args=[victim.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert refresh(client, pair.refresh) == 401


def test_password_spraying_from_one_ip_through_the_form_is_stopped(settings: Any) -> None:
    settings.API_RATE_LIMIT_LOGIN = "20/min"
    attacker, bystander = Client(REMOTE_ADDR="203.0.113.9"), Client(REMOTE_ADDR="198.51.100.4")
    user = UserFactory()
    statuses = [
        attacker.post(
            reverse("accounts:login"), {"username": f"victim{i}@example.com", "password": "guess-1"}
        ).status_code
        for i in range(40)
    ]

    assert statuses[:20] == [400] * 20  # each a refused log-in form
    assert set(statuses[20:]) == {429}
    assert (
        bystander.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD}).status_code
        == 302
    )


def test_the_form_and_the_api_share_one_budget_per_ip(settings: Any) -> None:
    settings.API_RATE_LIMIT_LOGIN = "5/min"
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(5):
        attacker.post(
            "/api/v1/auth/token",
            {"email": f"v{i}@example.com", "password": "guess-1"},
            content_type="application/json",
        )

    assert (
        attacker.post(reverse("accounts:login"), {"username": "x@example.com", "password": "g"}).status_code
        == 429
    )


def test_the_log_in_form_takes_the_email_in_any_case(client: Client) -> None:
    user = UserFactory(email="mixed@example.com")

    response = client.post(reverse("accounts:login"), {"username": "MiXeD@Example.COM", "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_case_variants_of_one_email_share_one_lockout(settings: Any, client: Client) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    user = UserFactory(email="target@example.com")
    for variant in ("Target@example.com", "TARGET@example.com", "target@EXAMPLE.com"):
        client.post(reverse("accounts:login"), {"username": variant, "password": "wrong-password-x"})

    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})

    assert response.status_code == 429
