"""Credentials sent with the wrong Authorization scheme are refused with 401 and never logged."""

from __future__ import annotations

import base64
import logging

import pytest
from django.test import Client

from accounts.models import Role
from accounts.tokens import api_token_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    # ninja's HttpBearer writes the whole header at ERROR when DEBUG is on (a developer's `make run`).
    settings.DEBUG = True


@pytest.mark.parametrize("scheme", ["Basic", "Token", "basic", "Digest"])
def test_another_scheme_is_401_with_a_bearer_challenge_and_no_credential_in_the_log(scheme, caplog):
    user = UserFactory(email="t1@example.com", role=Role.TRADER)
    _, pat = api_token_create(user=user, name="cli", scopes=["read"])
    secrets = {
        "Basic": base64.b64encode(f"t1@example.com:{PASSWORD}".encode()).decode(),
        "basic": base64.b64encode(f"t1@example.com:{PASSWORD}".encode()).decode(),
        "Token": pat,
        "Digest": pat,
    }
    secret = secrets[scheme]
    with caplog.at_level(logging.DEBUG):
        response = Client().get("/api/v1/me", headers={"Authorization": f"{scheme} {secret}"})

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged
    assert secret[:12] not in logged
    assert "Authorization" in logged  # the refusal is logged, without the credential
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("header", ["Bearer  {pat}", "bearer {pat}", "BEARER   {pat}", "Bearer {pat}  "])
def test_the_bearer_scheme_is_case_insensitive_and_takes_one_or_more_spaces(header):
    user = UserFactory(email="t2@example.com", role=Role.TRADER)
    _, pat = api_token_create(user=user, name="cli", scopes=["read"])

    response = Client().get("/api/v1/me", headers={"Authorization": header.format(pat=pat)})

    assert response.status_code == 200, response.content
    assert response.json()["auth"]["kind"] == "pat"


def test_a_bearer_scheme_without_a_token_is_401():
    response = Client().get("/api/v1/me", headers={"Authorization": "Bearer"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_session_behind_a_proxys_basic_auth_still_works():
    user = UserFactory(email="t3@example.com", role=Role.TRADER)
    client = Client()
    client.force_login(user)
    basic = base64.b64encode(b"proxy:secret").decode()
    response = client.get("/api/v1/me", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    assert response.json()["auth"]["kind"] == "session"
