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
