"""Who may reach each page: one table, checked for every request by one middleware.

Every named HTML route has an entry. The rule a kind stands for:

- PUBLIC: anyone, signed in or not (log-in, sign-up, password reset, health).
- SIGNED_IN: any signed-in user, for reads and for writes that touch only their own account
  (notifications, API tokens, password, signing out). Viewers included.
- TRADE: any signed-in user may read; every write (POST, PUT, PATCH, DELETE) needs a role that
  may trade. Orders, keys, modes, rules, risk limits, positions, alerts, favourites.
- OPERATOR: admins only, reads and writes.

A route with no entry is treated as TRADE (safe by default) and fails the role-matrix test
(tests/config/test_role_matrix.py) until someone decides its kind. The Django admin and the API
guard themselves: staff-only admin views, and per-operation scopes and roles in the API
(`config.api_auth.require_scope`), walked by the same test.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class Access(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed-in"
    TRADE = "trade"
    OPERATOR = "operator"


SELF_GUARDED_NAMESPACES = frozenset({"admin", "api"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ACCESS: dict[str, Access] = {
    "healthz": Access.PUBLIC,
    "favicon": Access.PUBLIC,
    # /metrics guards itself: METRICS_TOKEN as a bearer token, else loopback only (config/metrics_web.py).
    "metrics": Access.PUBLIC,
    "home": Access.TRADE,
    # accounts
    "accounts:signup": Access.PUBLIC,
    "accounts:login": Access.PUBLIC,
    "accounts:logout": Access.PUBLIC,
    "accounts:password_reset": Access.PUBLIC,
    "accounts:password_reset_done": Access.PUBLIC,
    "accounts:password_reset_confirm": Access.PUBLIC,
    "accounts:password_reset_complete": Access.PUBLIC,
    "accounts:password_change": Access.SIGNED_IN,
    "accounts:password_change_done": Access.SIGNED_IN,
    "accounts:tokens": Access.SIGNED_IN,
    "accounts:token_revoke": Access.SIGNED_IN,
    "accounts:sign_out_everywhere": Access.SIGNED_IN,
    # notifications: a viewer still reads and manages their own inbox and channels
    "notifications:index": Access.SIGNED_IN,
    "notifications:unread": Access.SIGNED_IN,
    "notifications:mark_all_read": Access.SIGNED_IN,
    "notifications:mark_read": Access.SIGNED_IN,
    "notifications:channels": Access.SIGNED_IN,
    "notifications:channel_toggle": Access.SIGNED_IN,
    "notifications:channel_test": Access.SIGNED_IN,
    "notifications:channel_delete": Access.SIGNED_IN,
    # trading
    "trading:markets": Access.TRADE,
    "trading:market": Access.TRADE,
    "trading:candles": Access.TRADE,
    "trading:order_place": Access.TRADE,
    "trading:favourite_toggle": Access.TRADE,
    "trading:orders": Access.TRADE,
    "trading:order_cancel_all": Access.TRADE,
    "trading:order_detail": Access.TRADE,
    "trading:order_cancel": Access.TRADE,
    "trading:portfolio": Access.TRADE,
    "trading:equity": Access.TRADE,
    "trading:settings": Access.TRADE,
    "trading:mode_set": Access.TRADE,
    "trading:credential_save": Access.TRADE,
    "trading:credential_test": Access.TRADE,
    "trading:credential_delete": Access.TRADE,
    "trading:paper_reset": Access.TRADE,
    # sniper
    "sniper:listings": Access.TRADE,
    "sniper:rules": Access.TRADE,
    "sniper:rule_new": Access.TRADE,
    "sniper:rule_edit": Access.TRADE,
    "sniper:rule_delete": Access.TRADE,
    "sniper:positions": Access.TRADE,
    "sniper:position_close": Access.TRADE,
    "sniper:risk": Access.TRADE,
    "sniper:alerts": Access.TRADE,
    "sniper:alert_action": Access.TRADE,
    # backups
    "backups:index": Access.OPERATOR,
    "backups:start": Access.OPERATOR,
    "backups:run": Access.OPERATOR,
    "backups:download": Access.OPERATOR,
}


def access_for(view_name: str) -> Access:
    return ACCESS.get(view_name, Access.TRADE)


def allowed(access: Access, user: Any, method: str) -> bool:
    """Whether a signed-in `user` may make a `method` request to a route of this kind."""
    if access in (Access.PUBLIC, Access.SIGNED_IN):
        return True
    if access == Access.OPERATOR:
        return bool(user.is_operator)
    return method in SAFE_METHODS or bool(user.can_trade)


class RoleMiddleware:
    """Checks ACCESS before any view runs: anonymous visitors go to the log-in page, a signed-in
    user whose role does not allow the request gets 403 (the project's 403 page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or (match.namespaces and match.namespaces[0] in SELF_GUARDED_NAMESPACES):
            return None
        if getattr(match.func, "__module__", "") == "ninja.operation":
            return None  # any NinjaAPI (the real one, or one a test builds) checks its own auth and scopes
        access = access_for(match.view_name)
        if access == Access.PUBLIC:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not allowed(access, request.user, request.method or "GET"):
            raise PermissionDenied
        return None
