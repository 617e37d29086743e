"""Telling operators that something went wrong: the one hook the notifications feature will extend."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

logger = logging.getLogger("backups")


def operator_notify(*, subject: str, message: str) -> None:
    """Logs the problem and emails every active admin; never raises (it runs on failure paths)."""
    logger.error("%s: %s", subject, message)
    try:
        recipients = list(
            get_user_model().objects.filter(role="admin", is_active=True).values_list("email", flat=True)
        )
        if recipients:
            send_mail(f"[Brute] {subject}", message, None, recipients, fail_silently=False)
    except Exception:
        logger.exception("could not email operators about: %s", subject)
