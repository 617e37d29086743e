"""Telling operators that something went wrong with a backup."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from accounts.models import Role

logger = logging.getLogger("backups")


def operator_notify(*, subject: str, message: str) -> None:
    """Logs the problem and tells every active admin; never raises (it runs on failure paths).

    It goes to the notification centre (the page, and each admin's own channels) and, independently,
    by plain email, so a broken database cannot also hide a broken backup.
    """
    logger.error("%s: %s", subject, message)
    try:
        # Inside the try: a notification centre that cannot even load must not hide the e-mail below.
        from accounts.notifications.services import operator_notify as notify

        notify(kind="backup_failed", title=subject, body=message, level="error")
    except Exception:
        logger.exception("could not notify operators through the notification centre: %s", subject)
    try:
        recipients = list(
            get_user_model().objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True)
        )
        if recipients:
            send_mail(f"[Brute] {subject}", message, None, recipients, fail_silently=False)
    except Exception:
        logger.exception("could not email operators about: %s", subject)
