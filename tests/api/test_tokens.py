from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from tests.api.conftest import access_for, assert_error, bearer, pat_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def create(api, headers, **payload):
    return api.post("/api/v1/auth/tokens", payload, content_type="application/json", headers=headers)


def test_it_creates_a_token_shown_once_and_stores_only_its_hash(api, owner):
    response = create(api, access_for(owner), name="bot", scopes=["trade", "read"])
    assert response.status_code == 201
    body = response.json()
    secret = body["token"]
    assert secret.startswith("brute_pat_")
    assert body["scopes"] == ["read", "trade"]
    assert body["hint"] == secret[:14]
    row = ApiToken.objects.get(pk=body["id"])
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = " ".join(str(value) for value in ApiToken.objects.filter(pk=row.pk).values().get().values())
    assert secret not in stored
    listed = api.get("/api/v1/auth/tokens", headers=access_for(owner)).json()
    assert listed["count"] == 1
    assert "token" not in listed["items"][0]


def test_a_token_authenticates_with_its_scopes(api, owner):
    headers = pat_for(owner, "read")
    me = api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["auth"]["kind"] == "pat"
    assert me.json()["auth"]["scopes"] == ["read"]
    assert ApiToken.objects.get().last_used_at is not None


def test_it_rejects_unknown_scopes_and_empty_names(api, owner):
    error = assert_error(create(api, access_for(owner), name="x", scopes=["admin"]), 422, "validation_error")
    assert error["details"][0]["field"].startswith("scopes")
    assert_error(create(api, access_for(owner), name="x", scopes=[]), 422, "validation_error")
    assert_error(create(api, access_for(owner), name="   ", scopes=["read"]), 422, "validation_error")


def test_a_second_active_token_with_the_same_name_conflicts(api, owner):
    assert create(api, access_for(owner), name="bot", scopes=["read"]).status_code == 201
    assert_error(create(api, access_for(owner), name="bot", scopes=["read"]), 409, "conflict")


def test_a_revoked_token_stops_working_and_leaves_the_list(api, owner):
    body = create(api, access_for(owner), name="bot", scopes=["read"]).json()
    assert api.delete(f"/api/v1/auth/tokens/{body['id']}", headers=access_for(owner)).status_code == 204
    assert_error(api.get("/api/v1/me", headers=bearer(body["token"])), 401, "not_authenticated")
    assert api.get("/api/v1/auth/tokens", headers=access_for(owner)).json()["count"] == 0


def test_a_token_can_be_revoked_by_value(api, owner):
    body = create(api, access_for(owner), name="bot", scopes=["read"]).json()
    api.post("/api/v1/auth/revoke", {"token": body["token"]}, content_type="application/json")
    assert_error(api.get("/api/v1/me", headers=bearer(body["token"])), 401, "not_authenticated")


def test_an_expired_token_is_not_authenticated(api, owner):
    body = create(
        api,
        access_for(owner),
        name="bot",
        scopes=["read"],
        expires_at=(timezone.now() + timedelta(hours=1)).isoformat(),
    ).json()
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(api.get("/api/v1/me", headers=bearer(body["token"])), 401, "not_authenticated")


def test_someone_elses_token_looks_missing(api, owner, other):
    body = create(api, access_for(other), name="theirs", scopes=["read"]).json()
    assert_error(api.delete(f"/api/v1/auth/tokens/{body['id']}", headers=access_for(owner)), 404, "not_found")
    assert ApiToken.objects.get(pk=body["id"]).revoked_at is None
    assert api.get("/api/v1/auth/tokens", headers=access_for(owner)).json()["count"] == 0


def test_a_personal_token_cannot_mint_or_revoke_tokens(api, owner):
    headers = pat_for(owner, "read", "trade")
    assert_error(create(api, headers, name="escalate", scopes=["trade"]), 403, "forbidden")
    token_id = ApiToken.objects.get().pk
    assert_error(api.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers), 403, "forbidden")
    assert api.get("/api/v1/auth/tokens", headers=headers).status_code == 200


def test_a_garbage_personal_token_is_not_authenticated(api, db):
    assert_error(api.get("/api/v1/me", headers=bearer("brute_pat_nope")), 401, "not_authenticated")
