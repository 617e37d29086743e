"""Personal tokens and JWT users are checked in the database once per API_AUTH_CACHE_TTL per process;
revocation is at once in the process that revokes and within the TTL in the others."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from accounts import auth_cache
from accounts.models import ApiToken, User
from accounts.services import user_sign_out_everywhere
from tests.api.conftest import access_for, assert_error, pat_for
from tests.factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


class Clock:
    """The auth cache's monotonic clock, moved by hand (another process's change becomes visible)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        monkeypatch.setattr(auth_cache.time, "monotonic", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def me(api: Any, headers: dict[str, str]) -> Any:
    return api.get("/api/v1/me", headers=headers)


def auth_queries(api: Any, headers: dict[str, str], table: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert me(api, headers).status_code == 200
    return sum(table in q["sql"] for q in queries.captured_queries)


def test_a_personal_token_is_looked_up_once_within_the_ttl(api, owner, clock):
    headers = pat_for(owner, "read")
    assert auth_queries(api, headers, '"accounts_apitoken"') >= 1
    assert auth_queries(api, headers, '"accounts_apitoken"') == 0
    clock.now += 6
    assert auth_queries(api, headers, '"accounts_apitoken"') >= 1


def test_a_jwt_user_is_looked_up_once_within_the_ttl(api, owner, clock):
    headers = access_for(owner)
    assert auth_queries(api, headers, '"accounts_user"') == 1
    assert auth_queries(api, headers, '"accounts_user"') == 0


def test_a_ttl_of_zero_checks_every_request(api, owner, settings):
    settings.API_AUTH_CACHE_TTL = 0
    headers = pat_for(owner, "read")
    assert auth_queries(api, headers, '"accounts_apitoken"') >= 1
    assert auth_queries(api, headers, '"accounts_apitoken"') >= 1


def test_revoking_a_token_in_this_process_takes_effect_at_once(api, owner, clock):
    headers = pat_for(owner, "read", name="soon revoked")
    assert me(api, headers).status_code == 200
    token = ApiToken.objects.get(name="soon revoked")
    api.force_login(owner)
    assert api.delete(f"/api/v1/auth/tokens/{token.pk}").status_code == 204
    api.logout()
    assert_error(me(api, headers), 401, "not_authenticated")


def test_a_token_revoked_by_another_process_is_refused_within_the_ttl(api, owner, clock):
    headers = pat_for(owner, "read", name="elsewhere")
    assert me(api, headers).status_code == 200
    # Another process revokes it: an UPDATE this process's cache hears nothing of.
    ApiToken.objects.filter(name="elsewhere").update(revoked_at=F("created_at"))
    assert me(api, headers).status_code == 200  # still trusted, for at most the TTL
    clock.now += 5.01
    assert_error(me(api, headers), 401, "not_authenticated")


def test_an_access_token_is_refused_after_sign_out_everywhere(api, owner, clock):
    headers = access_for(owner)
    assert me(api, headers).status_code == 200
    user_sign_out_everywhere(user=owner)
    error = assert_error(me(api, headers), 401, "not_authenticated")
    assert "revoked" in error["message"]


def test_an_access_token_is_refused_after_a_password_change(api, owner, clock):
    headers = access_for(owner)
    assert me(api, headers).status_code == 200
    owner.set_password(PASSWORD + " and more")
    owner.save()
    assert_error(me(api, headers), 401, "not_authenticated")


def test_a_sign_out_in_another_process_refuses_access_tokens_within_the_ttl(api, owner, clock):
    headers = access_for(owner)
    assert me(api, headers).status_code == 200
    User.objects.filter(pk=owner.pk).update(auth_epoch=F("auth_epoch") + 1)
    assert me(api, headers).status_code == 200
    clock.now += 5.01
    assert_error(me(api, headers), 401, "not_authenticated")


def test_a_fresh_login_after_sign_out_everywhere_works(api, owner):
    user_sign_out_everywhere(user=owner)
    assert me(api, access_for(owner)).status_code == 200


def test_a_request_cannot_change_the_cached_user_another_request_gets(api, owner):
    headers = pat_for(owner, "read")
    from accounts.tokens import api_token_authenticate

    secret = headers["Authorization"].removeprefix("Bearer ")
    first = api_token_authenticate(secret=secret)
    first.user.role = "viewer"
    assert api_token_authenticate(secret=secret).user.role == owner.role


def test_a_request_copy_has_its_own_values_and_related_rows_and_still_saves(api, owner):
    headers = pat_for(owner, "read")
    from accounts.tokens import api_token_authenticate

    secret = headers["Authorization"].removeprefix("Bearer ")
    first = api_token_authenticate(secret=secret)
    first.name = "changed by one request"
    first.user = User(email="someone.else@example.com")
    second = api_token_authenticate(secret=secret)
    assert second.name != "changed by one request"
    assert second.user.pk == owner.pk
    assert not second._state.adding
    second.user.display_name = "Saved"
    second.user.save(update_fields=["display_name"])  # a copy is a normal row: it saves
    assert User.objects.get(pk=owner.pk).display_name == "Saved"


def test_a_market_read_checks_the_symbol_name_in_memory_and_still_finds_a_new_listing(api, owner):
    from trading.models import Symbol

    Symbol.objects.create(symbol="SOLUSDT", base_asset="SOL", quote_asset="USDT")
    headers = pat_for(owner, "read")
    assert api.get("/api/v1/markets/SOLUSDT/ticker", headers=headers).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/markets/SOLUSDT/trades", headers=headers).status_code == 200
    assert not any('"trading_symbol"' in q["sql"] for q in queries.captured_queries)
    Symbol.objects.create(symbol="NEWUSDT", base_asset="NEW", quote_asset="USDT")
    assert api.get("/api/v1/markets/NEWUSDT/trades", headers=headers).status_code == 200
    assert_error(api.get("/api/v1/markets/NOPEUSDT/trades", headers=headers), 404, "unknown_symbol")
