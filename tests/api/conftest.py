"""The fixed cast of the API tests (owner, other user, viewer, operator) and small client helpers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, User
from accounts.tokens import api_token_create, token_pair_issue
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _api_settings(settings: Any, tmp_path: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The real backend kind (a file cache shared by processes), but a fresh one per test.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory(email="owner@example.com", role=Role.TRADER)


@pytest.fixture
def other(db: None) -> User:
    return UserFactory(email="other@example.com", role=Role.TRADER)


@pytest.fixture
def viewer(db: None) -> User:
    return UserFactory(email="viewer@example.com", role=Role.VIEWER)


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory(email="operator@example.com", role=Role.ADMIN)


@pytest.fixture
def api() -> Client:
    return Client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def access_for(user: User) -> dict[str, str]:
    return bearer(token_pair_issue(user=user).access)


def pat_for(user: User, *scopes: str, name: str = "test") -> dict[str, str]:
    _, secret = api_token_create(user=user, name=name, scopes=list(scopes))
    return bearer(secret)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with the expected status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    for detail in body["error"]["details"]:
        assert set(detail) == {"field", "message"}
    return body["error"]


@pytest.fixture
def mexc(settings: Any) -> Any:
    """The project's MEXC-compatible exchange server on loopback, with Django pointed at it and a
    book that stays still between reads (the trading tests' setup)."""
    from trading.simexchange.config import SimConfig
    from trading.simexchange.testing import SimExchangeThread

    config = SimConfig(
        tick_seconds=3600, push_seconds=3600, kline_push_seconds=3600, mini_ticker_push_seconds=3600
    )
    with SimExchangeThread(config) as exchange:
        settings.MEXC_BASE_URL = exchange.base_url
        settings.MEXC_WS_URL = exchange.ws_url
        settings.MEXC_SIMULATED = False
        yield exchange


@pytest.fixture
def synced(mexc: Any, db: None) -> Any:
    """The exchange server with its symbols synced into the Symbol table."""
    from trading import services

    services.symbols_sync()
    return mexc


def reads_as_valid_query(case: Any) -> bool:
    """Whether a generated case puts a list of fewer than two items in a query parameter: on the
    wire `?symbol=x` is the same for the string "x" and the list ["x"] (and an empty list is no
    parameter at all), so the server cannot tell such "wrong-type" data from valid data. Lists of
    two or more are real repeats, which the API refuses with 422 (config/api_input.py)."""
    return any(isinstance(value, list) and len(value) < 2 for value in (case.query or {}).values())
