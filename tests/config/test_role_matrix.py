"""The role matrix: every URL pattern and every API operation, for each of anonymous, viewer,
trader, other trader and admin, with the status each gets.

The objects in a URL (an order, a rule, a channel...) belong to the trader, so "other" (another
trader) and "admin" (who trades on their own account) must find them missing. Requests are sent
with an empty body: a refusal must come before any form is read, and an allowed write answers as
its view answers an empty form. Adding a route or an operation without a row here fails
`test_every_route_has_a_row` and `test_every_api_operation_has_a_row`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Role, User
from accounts.notifications.models import Notification
from accounts.notifications.services import channel_create
from accounts.tokens import api_token_create, token_pair_issue
from backups.models import BackupRun
from config.api import api
from tests.factories import UserFactory
from tests.trading.conftest import mexc, sim_config, synced  # noqa: F401  (fixtures)
from trading.models import Order
from trading.services import order_place
from trading.sniper.models import Position, PriceAlert, Rule

pytestmark = pytest.mark.django_db

ROLES = ("anon", "viewer", "trader", "other", "admin")
# Sent in this order: the owner goes last, so a refused request never sees an object another
# role's allowed write has already changed.
ORDER = ("anon", "viewer", "other", "admin", "trader")

# name: {method: "anon viewer trader other admin"}. 302* is a redirect to the log-in page. A 400
# or 200 to an allowed write is its view's answer to an empty form; a viewer's 403 on a GET of a
# write-only trading URL comes from the view's own decorator, before its method check.
HTML: dict[str, dict[str, str]] = {
    "healthz": {"GET": "200 200 200 200 200"},
    "favicon": {"GET": "301 301 301 301 301"},
    "metrics": {"GET": "200 200 200 200 200"},
    "home": {"GET": "302* 200 200 200 200", "POST": "302* 403 405 405 405"},
    "accounts:signup": {"GET": "200 302 302 302 302", "POST": "200 302 302 302 302"},
    "accounts:login": {"GET": "200 200 200 200 200", "POST": "400 400 400 400 400"},
    "accounts:logout": {"GET": "405 405 405 405 405", "POST": "302* 302* 302* 302* 302*"},
    "accounts:password_reset": {"GET": "200 200 200 200 200", "POST": "400 400 400 400 400"},
    "accounts:password_reset_done": {"GET": "200 200 200 200 200"},
    "accounts:password_reset_confirm": {"GET": "200 200 200 200 200", "POST": "200 200 200 200 200"},
    "accounts:password_reset_complete": {"GET": "200 200 200 200 200"},
    "accounts:password_change": {"GET": "302* 200 200 200 200", "POST": "302* 400 400 400 400"},
    "accounts:password_change_done": {"GET": "302* 200 200 200 200"},
    "accounts:tokens": {"GET": "302* 200 200 200 200", "POST": "302* 200 200 200 200"},
    "accounts:token_revoke": {"GET": "302* 405 405 405 405", "POST": "302* 404 302 404 404"},
    "accounts:sign_out_everywhere": {"GET": "302* 405 405 405 405", "POST": "302* 302 302 302 302"},
    "notifications:index": {"GET": "302* 200 200 200 200"},
    "notifications:unread": {"GET": "302* 200 200 200 200"},
    "notifications:mark_all_read": {"GET": "302* 405 405 405 405", "POST": "302* 302 302 302 302"},
    "notifications:mark_read": {"GET": "302* 405 405 405 405", "POST": "302* 404 302 404 404"},
    "notifications:channels": {"GET": "302* 200 200 200 200", "POST": "302* 200 200 200 200"},
    "notifications:channel_toggle": {"GET": "302* 405 405 405 405", "POST": "302* 404 302 404 404"},
    "notifications:channel_test": {"GET": "302* 405 405 405 405", "POST": "302* 404 302 404 404"},
    "notifications:channel_delete": {"GET": "302* 405 405 405 405", "POST": "302* 404 302 404 404"},
    "trading:markets": {"GET": "302* 200 200 200 200"},
    "trading:market": {"GET": "302* 200 200 200 200"},
    "trading:candles": {"GET": "302* 200 200 200 200"},
    "trading:order_place": {"GET": "302* 403 405 405 405", "POST": "302* 403 400 400 400"},
    "trading:favourite_toggle": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 302 302"},
    "trading:orders": {"GET": "302* 200 200 200 200"},
    "trading:order_cancel_all": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 302 302"},
    "trading:order_detail": {"GET": "302* 404 200 404 404"},
    "trading:order_cancel": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 404 404"},
    "trading:portfolio": {"GET": "302* 200 200 200 200"},
    "trading:equity": {"GET": "302* 200 200 200 200"},
    "trading:settings": {"GET": "302* 200 200 200 200"},
    "trading:mode_set": {"GET": "302* 403 405 405 405", "POST": "302* 403 400 400 400"},
    "trading:credential_save": {"GET": "302* 403 405 405 405", "POST": "302* 403 400 400 400"},
    "trading:credential_test": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 302 302"},
    "trading:credential_delete": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 302 302"},
    "trading:paper_reset": {"GET": "302* 403 405 405 405", "POST": "302* 403 302 302 302"},
    "sniper:listings": {"GET": "302* 200 200 200 200"},
    "sniper:rules": {"GET": "302* 200 200 200 200"},
    "sniper:rule_new": {"GET": "302* 200 200 200 200", "POST": "302* 403 200 200 200"},
    "sniper:rule_edit": {"GET": "302* 404 200 404 404", "POST": "302* 403 200 404 404"},
    "sniper:rule_delete": {"GET": "302* 405 405 405 405", "POST": "302* 403 302 404 404"},
    "sniper:positions": {"GET": "302* 200 200 200 200"},
    "sniper:position_close": {"GET": "302* 405 405 405 405", "POST": "302* 403 302 404 404"},
    "sniper:risk": {"GET": "302* 200 200 200 200", "POST": "302* 403 200 200 200"},
    "sniper:alerts": {"GET": "302* 200 200 200 200", "POST": "302* 403 200 200 200"},
    "sniper:alert_action": {"GET": "302* 405 405 405 405", "POST": "302* 403 302 404 404"},
    "backups:index": {"GET": "302* 403 403 403 200"},
    "backups:start": {"GET": "302* 403 403 403 405", "POST": "302* 403 403 403 302"},
    "backups:run": {"GET": "302* 403 403 403 200"},
    "backups:download": {"GET": "302* 403 403 403 404"},
    "admin": {"GET": "302 302 302 302 200"},
}

# operation id: "anon viewer trader other admin" with each role's access token.
API: dict[str, str] = {
    "auth_token": "422 422 422 422 422",
    "auth_refresh": "422 422 422 422 422",
    "auth_revoke": "422 422 422 422 422",
    "auth_token_list": "401 200 200 200 200",
    "auth_token_create": "401 201 201 201 201",
    "auth_token_delete": "401 404 204 404 404",
    "me": "401 200 200 200 200",
    "symbol_list": "401 200 200 200 200",
    "symbol_detail": "401 200 200 200 200",
    "market_ticker": "401 200 200 200 200",
    "market_depth": "401 200 200 200 200",
    "market_trades": "401 200 200 200 200",
    "market_klines": "401 200 200 200 200",
    "order_list": "401 200 200 200 200",
    "order_create": "401 403 201 201 201",
    "order_cancel_all": "401 403 200 200 200",
    "order_detail": "401 404 200 404 404",
    "order_cancel": "401 403 200 404 404",
    "fill_list": "401 200 200 200 200",
    "balance_list": "401 200 200 200 200",
    "portfolio_detail": "401 200 200 200 200",
}


# A valid body for the writes that take one, so a refusal is the role's and not the input's.
BODIES: dict[str, dict[str, Any]] = {
    "order_create": {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "5"},
    "auth_token_create": {"scopes": ["read"]},
}


def html_routes() -> dict[str, str]:
    """Every named route outside the API, by name, with its pattern; the admin site as one."""
    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    found["admin"] = prefix + str(pattern.pattern)
                elif pattern.namespace != "api":
                    inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                    walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"the route {prefix}{pattern.pattern} has no name"
                found[namespace + pattern.name] = prefix + str(pattern.pattern)

    walk(get_resolver().url_patterns, "", "")
    return found


def api_operations() -> dict[str, tuple[str, str]]:
    schema = api.get_openapi_schema()
    return {
        operation["operationId"].removeprefix("accounts_api_").removeprefix("trading_api_"): (
            method.upper(),
            path,
        )
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


@dataclass
class Cast:
    clients: dict[str, Client]
    users: dict[str, User]

    def objects(self) -> dict[str, Any]:
        """A fresh set of the trader's objects, by URL keyword (a write may have used the last)."""
        trader = self.users["trader"]
        seq = Order.objects.count()
        order = order_place(user=trader, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price="5")
        for role, user in self.users.items():
            # A log-out, a password change or a sign-out everywhere may have ended the session.
            self.clients[role].force_login(User.objects.get(pk=user.pk))
        token, _ = api_token_create(user=trader, name=f"matrix-{seq}", scopes=["read"])
        channel = channel_create(
            user=trader,
            type="email",
            label="mail",
            kinds=["order_filled"],
            config={"address": "t@example.com"},
        )
        return {
            "symbol": "SOLUSDT",
            "order_id": order.pk,
            "token_id": token.pk,
            "notification_id": Notification.objects.create(user=trader, kind="order_filled", title="t").pk,
            "channel_id": channel.pk,
            "rule_id": Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("5")).pk,
            "position_id": Position.objects.update_or_create(
                user=trader, mode="paper", symbol="SOLUSDT", defaults={"status": Position.Status.OPEN}
            )[0].pk,
            "alert_id": PriceAlert.objects.create(user=trader, symbol="SOLUSDT", kind="above", value=1).pk,
            "action": "delete",
            "run_id": BackupRun.objects.create(action=BackupRun.Action.CREATE).pk,
            "backup_id": "20260101T000000Z-abcdef",
            "uidb64": "MQ",
            "token": "set-password",
        }


@pytest.fixture
def cast(synced: Any, settings: Any, tmp_path: Any) -> Cast:  # noqa: F811  (synced: the imported fixture)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    settings.BACKUP_DIR = tmp_path / "backups"
    users = {
        "viewer": UserFactory(role=Role.VIEWER),
        "trader": UserFactory(role=Role.TRADER),
        "other": UserFactory(role=Role.TRADER),
        "admin": UserFactory(role=Role.ADMIN),
    }
    clients = {"anon": Client(raise_request_exception=False)}
    for role, user in users.items():
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(user)
    return Cast(clients=clients, users=users)


def _url(name: str, pattern: str, kwargs: dict[str, Any]) -> str:
    if name == "admin":
        return "/" + pattern
    wanted = {key: value for key, value in kwargs.items() if f"<{key}>" in pattern or f":{key}>" in pattern}
    return reverse(name, kwargs=wanted)


def _status(response: Any) -> str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return "302*"
    return str(response.status_code)


def test_every_route_has_a_row() -> None:
    assert sorted(html_routes()) == sorted(HTML)


def test_every_api_operation_has_a_row() -> None:
    assert sorted(api_operations()) == sorted(API)


def test_each_role_gets_the_expected_status_on_each_route(cast: Cast) -> None:
    # One test for the whole table (the exchange server it needs is slow to start), reporting
    # every cell that differs at once.
    routes = html_routes()
    got: dict[str, dict[str, str]] = {}
    for name in sorted(HTML):
        got[name] = {}
        for method in HTML[name]:
            url = _url(name, routes[name], cast.objects())
            statuses = {}
            for role in ORDER:
                client = cast.clients[role]
                response = client.get(url) if method == "GET" else client.post(url)
                statuses[role] = _status(response)
            got[name][method] = " ".join(statuses[role] for role in ROLES)
    differing = [
        f"{name} {method}: got {got[name][method]!r}, expected {row!r}"
        for name, rows in HTML.items()
        for method, row in rows.items()
        if got[name][method] != row
    ]
    assert differing == [], f"roles {' '.join(ROLES)}"


def test_each_role_gets_the_expected_status_on_each_api_operation(cast: Cast) -> None:
    operations = api_operations()
    tokens = {role: token_pair_issue(user=user).access for role, user in cast.users.items()}
    got: dict[str, str] = {}
    for operation in sorted(API):
        method, path = operations[operation]
        kwargs = cast.objects()
        url = path.replace("{symbol}", "SOLUSDT").replace("{order_id}", str(kwargs["order_id"]))
        url = url.replace("{token_id}", str(kwargs["token_id"]))
        statuses = {}
        for role in ORDER:
            headers = {} if role == "anon" else {"Authorization": f"Bearer {tokens[role]}"}
            body = json.dumps(
                BODIES.get(operation, {}) | ({"name": role} if operation == "auth_token_create" else {})
            )
            response = Client().generic(method, url, body, content_type="application/json", headers=headers)
            statuses[role] = str(response.status_code)
        got[operation] = " ".join(statuses[role] for role in ROLES)
    assert got == API
