from __future__ import annotations

import pytest

from accounts.tokens import api_token_create
from config.api_throttling import parse_rate
from tests.api.conftest import access_for, assert_error, bearer, pat_for
from tests.factories import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def test_a_token_over_its_limit_gets_429_with_retry_after(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "3/min"
    headers = pat_for(owner, "read")
    for _ in range(3):
        assert api.get("/api/v1/me", headers=headers).status_code == 200
    response = api.get("/api/v1/me", headers=headers)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_token_has_its_own_bucket(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "2/min"
    first = pat_for(owner, "read", name="one")
    second = pat_for(owner, "read", name="two")
    for _ in range(2):
        api.get("/api/v1/me", headers=first)
    assert api.get("/api/v1/me", headers=first).status_code == 429
    assert api.get("/api/v1/me", headers=second).status_code == 200


def test_an_ip_over_its_limit_gets_429_whatever_the_token(api, owner, other, settings):
    settings.API_RATE_LIMIT_IP = "3/min"
    for user in (owner, other, owner):
        assert api.get("/api/v1/me", headers=access_for(user)).status_code == 200
    response = api.get("/api/v1/me", headers=access_for(other))
    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response
    elsewhere = api.get("/api/v1/me", headers=access_for(other), REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 200


def test_the_login_endpoint_has_a_tighter_per_ip_limit(api, owner, settings):
    settings.API_RATE_LIMIT_LOGIN = "2/min"
    payload = {"email": owner.email, "password": PASSWORD}
    for _ in range(2):
        assert api.post("/api/v1/auth/token", payload, content_type="application/json").status_code == 200
    response = api.post("/api/v1/auth/token", payload, content_type="application/json")
    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(api, owner, settings):
    settings.API_RATE_LIMIT_IP = "1/min"
    _, secret = api_token_create(user=owner, name="t", scopes=["read"])
    assert api.get("/api/v1/me", headers=bearer(secret), HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert api.get("/api/v1/me", headers=bearer(secret), HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    settings.API_NUM_PROXIES = 1
    assert api.get("/api/v1/me", headers=bearer(secret), HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 200


def test_a_limit_can_be_switched_off(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = ""
    settings.API_RATE_LIMIT_IP = "0"
    headers = pat_for(owner, "read")
    assert all(api.get("/api/v1/me", headers=headers).status_code == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("100/min", (100, 60)), ("5/s", (5, 1)), ("10/5m", (10, 300)), ("1/day", (1, 86400)), ("", None)],
)
def test_rates_parse(rate, parsed):
    assert parse_rate(rate) == parsed


def test_a_malformed_rate_fails_loudly():
    with pytest.raises(ValueError, match="Malformed"):
        parse_rate("lots")


def test_without_redis_nothing_is_counted_through_the_cache(api, owner, settings, tmp_path):
    settings.API_RATE_LIMIT_TOKEN = "2/min"
    headers = pat_for(owner, "read")
    for _ in range(2):
        assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert api.get("/api/v1/me", headers=headers).status_code == 429
    cache_dir = tmp_path / "cache"
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_with_redis_every_process_counts_in_one_shared_window(api, owner, settings, redis_url):
    import redis

    from config.api_throttling import counts_clear

    settings.REDIS_URL = redis_url
    redis.Redis.from_url(redis_url).flushdb()
    settings.API_RATE_LIMIT_TOKEN = "3/min"
    headers = pat_for(owner, "read")
    for _ in range(2):
        assert api.get("/api/v1/me", headers=headers).status_code == 200
    counts_clear()  # what another process would see: nothing in its memory, the count in Redis
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert_error(api.get("/api/v1/me", headers=headers), 429, "rate_limited")
    keys = redis.Redis.from_url(redis_url).keys("brute:rl:token:*")
    assert len(keys) == 1
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 61


def refused_order(api, headers, body=None):
    """A read token POSTing an order: refused for its scope, 403, before the body is read."""
    body = (
        {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quote_quantity": "10"}
        if body is None
        else body
    )
    return api.post("/api/v1/orders", body, content_type="application/json", headers=headers)


def test_scope_refusals_count_against_the_tokens_limit(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "3/min"
    headers = pat_for(owner, "read")
    for _ in range(3):
        assert_error(refused_order(api, headers), 403, "forbidden")
    response = refused_order(api, headers)
    error = assert_error(response, 429, "rate_limited")
    assert error["details"] == []
    assert 1 <= int(response["Retry-After"]) <= 60
    assert_error(api.get("/api/v1/me", headers=headers), 429, "rate_limited")


def test_refusals_and_allowed_requests_share_one_budget(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "3/min"
    headers = pat_for(owner, "read")
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert_error(refused_order(api, headers), 403, "forbidden")
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert_error(refused_order(api, headers), 429, "rate_limited")


def test_over_the_limit_the_429_comes_before_the_scope_and_the_body(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "1/min"
    headers = pat_for(owner, "read")
    assert_error(refused_order(api, headers, {"side": "HOLD"}), 403, "forbidden")
    assert_error(refused_order(api, headers, {"side": "HOLD"}), 429, "rate_limited")


def test_a_refused_tokens_spent_budget_leaves_another_tokens_alone(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "2/min"
    read = pat_for(owner, "read", name="read")
    trade = pat_for(owner, "trade", name="trade")
    for _ in range(2):
        assert_error(refused_order(api, read), 403, "forbidden")
    assert_error(refused_order(api, read), 429, "rate_limited")
    assert api.get("/api/v1/me", headers=trade).status_code == 200
    assert api.get("/api/v1/me", headers=access_for(owner)).status_code == 200


def test_scope_refusals_count_against_the_ip_limit(api, owner, other, settings):
    settings.API_RATE_LIMIT_IP = "2/min"
    assert_error(refused_order(api, pat_for(owner, "read")), 403, "forbidden")
    assert_error(refused_order(api, pat_for(other, "read")), 403, "forbidden")
    response = api.get("/api/v1/me", headers=pat_for(owner, "trade", name="trade"))
    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response


@pytest.mark.parametrize("path", ["/t/orders", "/t/async-orders"])
def test_a_role_refusal_counts_too_on_sync_and_async_endpoints(api, viewer, settings, path):
    settings.API_RATE_LIMIT_TOKEN = "1/min"
    headers = access_for(viewer)
    body = {"symbol": "X", "qty": 1}
    assert_error(api.post(path, body, content_type="application/json", headers=headers), 403, "forbidden")
    response = api.post(path, body, content_type="application/json", headers=headers)
    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response


def test_bad_credentials_still_get_401(api, owner, settings):
    settings.API_RATE_LIMIT_TOKEN = "1/min"
    headers = pat_for(owner, "read")
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    assert_error(api.get("/api/v1/me", headers=headers), 429, "rate_limited")
    assert_error(api.get("/api/v1/me", headers=bearer("brute_pat_not-a-token")), 401, "not_authenticated")
    assert_error(refused_order(api, bearer("not-a-jwt")), 401, "not_authenticated")


def test_bad_bearer_tokens_spend_their_ips_budget(api, owner, settings):
    settings.API_RATE_LIMIT_IP = "2/min"
    for bad in ("brute_pat_not-a-token", "not-a-jwt"):
        assert_error(api.get("/api/v1/me", headers=bearer(bad)), 401, "not_authenticated")
    response = api.get("/api/v1/me", headers=bearer("not-a-jwt"))
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert_error(api.get("/api/v1/me", headers=pat_for(owner, "read")), 429, "rate_limited")
    elsewhere = api.get("/api/v1/me", headers=bearer("not-a-jwt"), REMOTE_ADDR="10.0.0.9")
    assert_error(elsewhere, 401, "not_authenticated")
