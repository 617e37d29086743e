"""API credentials: short-lived JWT access tokens, rotating refresh tokens and personal API tokens.

Writes and reads for the three live here (the API, the settings page and the admin share them).
Access tokens are not looked up in the database; refresh tokens are, by their `jti`, so they can
be revoked; personal tokens are found by the sha256 of their secret, the only form stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import auth_cache
from accounts.models import ApiScope, ApiToken, RefreshToken, User
from config.errors import BruteError, Conflict, ErrorDetail, InvalidInput, get_owned_or_404

ALGORITHM = "HS256"
ISSUER = "brute"
ALL_SCOPES: tuple[str, ...] = tuple(ApiScope.values)


class NotAuthenticated(BruteError):
    code = "not_authenticated"
    status = 401


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int


def access_token_ttl() -> int:
    return settings.API_ACCESS_TOKEN_TTL


def refresh_token_ttl() -> int:
    return settings.API_REFRESH_TOKEN_TTL


def _signing_key() -> bytes:
    # Derived, so the JWT key is never the raw SECRET_KEY and rotating SECRET_KEY invalidates tokens.
    return salted_hmac("brute.api.jwt", "signing-key", algorithm="sha256").digest()


def _encode(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)


def _decode(token: str, *, kind: str, verify_exp: bool = True) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _signing_key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "typ"], "verify_exp": verify_exp},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated(f"The {kind} token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"The {kind} token is invalid.") from exc
    if claims["typ"] != kind:
        raise NotAuthenticated(f"The {kind} token is invalid.")
    return claims


def _claims(*, user: User, kind: str, jti: str, ttl: int, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    return {
        "iss": ISSUER,
        "sub": str(user.pk),
        "typ": kind,
        "jti": jti,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
        **extra,
    }


def _pair_in_family(*, user: User, family: str) -> TokenPair:
    jti = uuid.uuid4().hex
    ttl = refresh_token_ttl()
    RefreshToken.objects.create(
        user=user, jti=jti, family=family, expires_at=timezone.now() + timedelta(seconds=ttl)
    )
    refresh = _encode(_claims(user=user, kind="refresh", jti=jti, ttl=ttl, fam=family))
    access_ttl = access_token_ttl()
    access = _encode(
        _claims(
            user=user,
            kind="access",
            jti=uuid.uuid4().hex,
            ttl=access_ttl,
            scope=" ".join(ALL_SCOPES),
            gen=token_generation(user),
        )
    )
    return TokenPair(access=access, refresh=refresh, expires_in=access_ttl)


@transaction.atomic
def token_pair_issue(*, user: User) -> TokenPair:
    """A new login: an access token and the first refresh token of a new family."""
    return _pair_in_family(user=user, family=uuid.uuid4().hex)


def token_pair_refresh(*, refresh: str) -> TokenPair:
    """Rotates a refresh token: the presented one is spent, the next one of its family returned."""
    claims = _decode(refresh, kind="refresh")
    now = timezone.now()
    with transaction.atomic():
        # A conditional UPDATE claims the token, so two concurrent refreshes cannot both rotate it.
        spent = RefreshToken.objects.filter(
            jti=claims["jti"], revoked_at__isnull=True, expires_at__gt=now, user__is_active=True
        ).update(revoked_at=now, revoked_reason=RefreshToken.Revoked.ROTATED)
        if spent:
            token = RefreshToken.objects.select_related("user").get(jti=claims["jti"])
            return _pair_in_family(user=token.user, family=token.family)
    reused = RefreshToken.objects.filter(
        jti=claims["jti"], revoked_reason=RefreshToken.Revoked.ROTATED
    ).first()
    if reused is not None:
        _family_revoke(family=reused.family, reason=RefreshToken.Revoked.REUSED)
    raise NotAuthenticated("The refresh token has been revoked.")


def _family_revoke(*, family: str, reason: str) -> int:
    return RefreshToken.objects.filter(family=family, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def token_revoke(*, token: str) -> None:
    """Revokes a refresh token's whole family or a personal API token, given the token itself.

    Unknown or malformed tokens are ignored so the answer reveals nothing (as RFC 7009 asks).
    """
    if token.startswith(ApiToken.PREFIX):
        ApiToken.objects.filter(token_hash=_hash(token), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        auth_cache.tokens.forget(_hash(token))
        return
    try:
        claims = _decode(token, kind="refresh", verify_exp=False)
    except NotAuthenticated:
        return
    if claims.get("fam"):
        _family_revoke(family=str(claims["fam"]), reason=RefreshToken.Revoked.REVOKED)


def token_generation(user: User) -> str:
    """Changes when the user's password changes or they sign out everywhere: an access token carries
    the generation it was issued in (`gen`) and is refused once it differs, before it expires."""
    return user.get_session_auth_hash()[:16]


def access_token_user(*, token: str) -> tuple[User, list[str]]:
    """The active user an access token speaks for, with the token's scopes.

    The user and their generation come from the process's auth cache (accounts/auth_cache.py), so
    a sign-out everywhere in another process takes effect here within API_AUTH_CACHE_TTL."""
    claims = _decode(token, kind="access")
    user_id = int(claims["sub"])
    cached = auth_cache.users.get(user_id)
    if cached is None:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise NotAuthenticated("The access token's user is no longer active.")
        cached = (user, token_generation(user))
        auth_cache.users.put(user_id, user_id, cached)
    user, generation = cached
    if not isinstance(claims.get("gen"), str) or not constant_time_compare(claims["gen"], generation):
        raise NotAuthenticated("The access token has been revoked (signed out or password changed).")
    return auth_cache.own_copy(user), str(claims.get("scope", "")).split()


# --- Personal API tokens.


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _clean_scopes(scopes: list[str]) -> str:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"Scopes must be a non-empty subset of {', '.join(ALL_SCOPES)}.")
    return " ".join(s for s in ALL_SCOPES if s in scopes)


NO_TRADE_SCOPE = "Your role cannot trade, so a token cannot have the trade scope; choose read."


def scopes_for_user(*, user: User) -> list[str]:
    """The scopes a token of `user` may hold: trade only for a role that may trade."""
    return [s for s in ALL_SCOPES if s != ApiScope.TRADE or user.can_trade]


def api_token_create(
    *, user: User, name: str, scopes: list[str], expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Creates a personal token. Returns the row and the secret, which is never available again."""
    name = name.strip()
    if not name:
        raise InvalidInput("A token needs a name.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future.")
    if ApiScope.TRADE in scopes and not user.can_trade:
        raise InvalidInput(NO_TRADE_SCOPE, details=[ErrorDetail(field="scopes", message=NO_TRADE_SCOPE)])
    secret = ApiToken.PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        scopes=_clean_scopes(scopes),
        token_hash=_hash(secret),
        hint=secret[: len(ApiToken.PREFIX) + 4],
        expires_at=expires_at,
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as exc:
        raise Conflict(f"You already have an active token named {name!r}.") from exc
    return token, secret


def api_token_revoke(*, user: User, token_id: int) -> ApiToken:
    token = api_token_get(user=user, token_id=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_get(*, user: User, token_id: int) -> ApiToken:
    return get_owned_or_404(ApiToken.objects.all(), user=user, pk=token_id)


def api_tokens_for_user(*, user: User, include_revoked: bool = False) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.filter(user=user)
    return tokens if include_revoked else tokens.active()


def api_token_authenticate(*, secret: str) -> ApiToken:
    """The active token with this secret, its user attached; marks it used about once a minute.

    A token checked in the last API_AUTH_CACHE_TTL seconds is taken from the process's auth cache
    (accounts/auth_cache.py): revocation elsewhere takes effect within that time."""
    digest = _hash(secret)
    now = timezone.now()
    cached = auth_cache.tokens.get(digest)
    if cached is not None and (cached.expires_at is None or cached.expires_at > now):
        return _own_copy(cached)
    found = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(token_hash=digest, user__is_active=True)
        .first()
    )
    if found is None:
        raise NotAuthenticated("The API token is invalid, expired or revoked.")
    token = found
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        # Conditional, so a busy token costs one write a minute rather than one per request.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
        ).update(last_used_at=now)
        token.last_used_at = now
    auth_cache.tokens.put(digest, token.user_id, token)
    return _own_copy(token)


def _own_copy(token: ApiToken) -> ApiToken:
    """A copy of a cached token and its user for one request (see accounts/auth_cache.py)."""
    mine = auth_cache.own_copy(token)
    mine.user = auth_cache.own_copy(token.user)
    return mine
