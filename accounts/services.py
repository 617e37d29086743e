"""Writes on accounts: sign-up, roles and the first operator account."""

from __future__ import annotations

import secrets

from django.db import transaction

from accounts.models import Role, User


@transaction.atomic
def user_create(*, email: str, password: str | None, display_name: str = "", role: str = Role.TRADER) -> User:
    return User.objects.create_user(email, password, display_name=display_name, role=role)


def user_set_role(*, user: User, role: str) -> User:
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}")
    user.role = role
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    return user


def admin_ensure_initial(*, email: str) -> str | None:
    """Creates the first operator with a generated password, once. Returns the password, or None."""
    with transaction.atomic():
        if User.objects.filter(role=Role.ADMIN).exists():
            return None
        password = secrets.token_urlsafe(18)
        User.objects.create_user(email, password, role=Role.ADMIN, display_name="Operator")
    return password
