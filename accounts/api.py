"""The accounts API: logging in for tokens, personal API tokens, and who am I."""

from __future__ import annotations

from typing import Any

from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_cool_off
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from ninja import Router, Status
from ninja.throttling import BaseThrottle

from accounts.models import ApiToken, User
from accounts.schemas import (
    ApiTokenCreatedOut,
    ApiTokenIn,
    ApiTokenOut,
    MeOut,
    TokenObtainIn,
    TokenPairOut,
    TokenRefreshIn,
    TokenRevokeIn,
)
from accounts.tokens import (
    NotAuthenticated,
    TokenPair,
    api_token_create,
    api_token_revoke,
    api_tokens_for_user,
    token_pair_issue,
    token_pair_refresh,
    token_revoke,
)
from config.api_auth import request_principal, require_interactive, require_scope
from config.api_pagination import Page, paginate
from config.api_throttling import IpRateThrottle, LoginRateThrottle
from config.errors import BruteError

router = Router(tags=["accounts"])
_login_throttles: list[BaseThrottle] = [LoginRateThrottle(), IpRateThrottle()]


class LockedOut(BruteError):
    code = "locked_out"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _pair_out(pair: TokenPair) -> dict[str, Any]:
    return {"access": pair.access, "refresh": pair.refresh, "expires_in": pair.expires_in}


def _token_out(token: ApiToken, secret: str | None = None) -> dict[str, Any]:
    out = {
        "id": token.pk,
        "name": token.name,
        "hint": token.hint,
        "scopes": token.scope_list,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }
    return out if secret is None else {**out, "token": secret}


@router.post("/auth/token", response=TokenPairOut, auth=None, throttle=_login_throttles, tags=["auth"])
def auth_token(request: HttpRequest, payload: TokenObtainIn) -> dict[str, Any]:
    """Exchanges an email and password for an access token (short-lived) and a refresh token.
    Failed attempts count towards the same lockout as the login page."""
    try:
        # Axes records a failure from request.POST: a body it cannot parse would skip the record
        # (and so the lockout) while the password was still checked.
        request.POST  # noqa: B018
    except MultiPartParserError as exc:
        raise BruteError("Send the body as application/json.") from exc
    try:
        user = authenticate(request=request, username=payload.email.lower(), password=payload.password)
    except AxesBackendPermissionDenied:
        user = None
    if getattr(request, "axes_locked_out", False):
        # Axes' middleware would swap our JSON for its HTML lockout page; the API answers itself.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        cool_off = get_cool_off(request)
        retry_after = int(cool_off.total_seconds()) if cool_off else 60
        raise LockedOut(
            "Too many failed attempts; this login is locked for a while.", retry_after=retry_after
        )
    if not isinstance(user, User):
        raise NotAuthenticated("The email or password is incorrect.")
    return _pair_out(token_pair_issue(user=user))


@router.post("/auth/refresh", response=TokenPairOut, auth=None, throttle=_login_throttles, tags=["auth"])
def auth_refresh(request: HttpRequest, payload: TokenRefreshIn) -> dict[str, Any]:
    """Spends a refresh token for a new pair. Each refresh token works once; presenting a spent
    one again revokes every token of that login."""
    return _pair_out(token_pair_refresh(refresh=payload.refresh))


@router.post("/auth/revoke", response={204: None}, auth=None, throttle=_login_throttles, tags=["auth"])
def auth_revoke(request: HttpRequest, payload: TokenRevokeIn) -> Status[None]:
    """Revokes a refresh token (and its login's later tokens) or a personal API token. Answers 204
    whether or not the token was known."""
    token_revoke(token=payload.token)
    return Status(204, None)


@router.get("/auth/tokens", response=list[ApiTokenOut], tags=["auth"])
@paginate(Page)
@require_scope("read")
def auth_token_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Your active personal API tokens, newest first."""
    return [_token_out(token) for token in api_tokens_for_user(user=request_principal(request).user)]


@router.post("/auth/tokens", response={201: ApiTokenCreatedOut}, tags=["auth"])
def auth_token_create(request: HttpRequest, payload: ApiTokenIn) -> Status[dict[str, Any]]:
    """Creates a personal API token. The secret is in this response only."""
    user = require_interactive(request).user
    token, secret = api_token_create(
        user=user, name=payload.name, scopes=list(payload.scopes), expires_at=payload.expires_at
    )
    return Status(201, _token_out(token, secret))


@router.delete("/auth/tokens/{token_id}", response={204: None}, tags=["auth"])
def auth_token_delete(request: HttpRequest, token_id: int) -> Status[None]:
    """Revokes one of your personal API tokens."""
    api_token_revoke(user=require_interactive(request).user, token_id=token_id)
    return Status(204, None)


@router.get("/me", response=MeOut, tags=["accounts"])
@require_scope("read")
def me(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user and how this request authenticated."""
    principal = request_principal(request)
    user = principal.user
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "can_trade": user.can_trade,
        "is_operator": user.is_operator,
        "auth": {"kind": principal.kind, "scopes": sorted(principal.scopes)},
    }
