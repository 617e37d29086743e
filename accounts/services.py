"""Writes on accounts: sign-up, roles, the first operator account, and ending a user's sign-ins."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts import auth_cache
from accounts.models import ApiToken, RefreshToken, Role, User


@transaction.atomic
def user_create(*, email: str, password: str | None, display_name: str = "", role: str = Role.TRADER) -> User:
    return User.objects.create_user(email, password, display_name=display_name, role=role)


def admin_ensure_initial(*, email: str) -> str | None:
    """Creates the first operator with a generated password, once. Returns the password, or None."""
    with transaction.atomic():
        if User.objects.filter(role=Role.ADMIN).exists():
            return None
        password = secrets.token_urlsafe(18)
        User.objects.create_user(email, password, role=Role.ADMIN, display_name="Operator")
    return password


LAST_ADMIN = "This is the last active admin: make another user an active admin first."


def user_admin_keep_one(
    *, user: User, role: str | None = None, is_active: bool | None = None, deleting: bool = False
) -> None:
    """Refuses (ValidationError) to demote, deactivate or delete the last active admin: someone must
    still be able to reach the operator pages. `role` and `is_active` are the values about to be saved."""
    stays_admin = (
        not deleting
        and (role if role is not None else user.role) == Role.ADMIN
        and (is_active if is_active is not None else user.is_active)
    )
    if stays_admin or user.pk is None:
        return
    others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)
    was_admin = User.objects.filter(pk=user.pk, role=Role.ADMIN, is_active=True).exists()
    if was_admin and not others.exists():
        raise ValidationError(LAST_ADMIN, code="last_admin")


@dataclass(frozen=True)
class Revoked:
    refresh_tokens: int
    api_tokens: int


def token_revoke_all_for_user(*, user: User, keep_api_tokens: bool = False) -> Revoked:
    """Revokes every live refresh token of the user (each login's whole family) and, unless
    `keep_api_tokens`, every personal API token. Access tokens already issued are not stored and
    run out on their own (API_ACCESS_TOKEN_TTL); `signed_out_at` lets a check refuse them sooner."""
    now = timezone.now()
    refresh = RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=RefreshToken.Revoked.REVOKED
    )
    pats = (
        0
        if keep_api_tokens
        else ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    )
    # This process at once (and again after commit, for a request that read in between); the others
    # within API_AUTH_CACHE_TTL.
    auth_cache.forget_user(user.pk)
    transaction.on_commit(lambda: auth_cache.forget_user(user.pk))
    return Revoked(refresh_tokens=refresh, api_tokens=pats)


@transaction.atomic
def user_sign_out_everywhere(
    *, user: User, request: HttpRequest | None = None, keep_api_tokens: bool = False
) -> Revoked:
    """Ends every browser session and API login of `user`; personal tokens too unless kept.

    Given the request of `user` themself, that one session stays signed in (the others end);
    an operator acting on someone else passes no request, or their own, which is left alone.
    """
    User.objects.filter(pk=user.pk).update(auth_epoch=F("auth_epoch") + 1, signed_out_at=timezone.now())
    user.refresh_from_db(fields=["auth_epoch", "signed_out_at"])
    auth_cache.forget_user(user.pk)
    if request is not None and getattr(request.user, "pk", None) == user.pk:
        update_session_auth_hash(request, user)
    return token_revoke_all_for_user(user=user, keep_api_tokens=keep_api_tokens)


@transaction.atomic
def user_password_changed(*, user: User, keep_signed_in: bool = False) -> Revoked | None:
    """After a password change or reset: other sessions have already ended (the session hash
    follows the password); API logins and personal tokens end too unless the user keeps them."""
    if keep_signed_in:
        return None
    return token_revoke_all_for_user(user=user)
