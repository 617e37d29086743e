"""The Django side of shadow mode: the installation's Shadow, status for pages and /healthz, alerts."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from config.shadow.core import Shadow, Verification, verify
from config.shadow import state as state_file

logger = logging.getLogger(__name__)


def shadow_get() -> Shadow:
    return Shadow(state_path=settings.SHADOW_STATE_FILE, token=settings.LIBSQL_AUTH_TOKEN or "")


def current_primary_url() -> str:
    """The primary as a URL the shadow understands (`file:PATH` for the embedded file)."""
    url = str(settings.DATABASE_URL)
    return url if ":" in url.split("/")[0] else f"file:{url}"


def shadow_status(*, check: bool = False) -> dict[str, Any]:
    """`Shadow.status`, never raising: an unreadable state or database is reported as an error."""
    try:
        return shadow_get().status(check=check)
    except Exception as exc:  # a status page reports every failure rather than raising
        logger.warning("shadow status failed: %s", exc)
        return {"state": "error", "error": str(exc)}


def shadow_verify_and_alert() -> dict[str, Any]:
    """Runs a verification; a divergence goes to the operators' inbox with the table and key range."""
    shadow = shadow_get()
    current = shadow.state()
    if current is None:
        return {"state": "off"}
    primary, other = shadow.databases()
    try:
        result: Verification = verify(primary, other)
    finally:
        primary.close()
        other.close()
    current = shadow.state() or current
    current["last_verification"] = result.as_dict()
    state_file.save(shadow.state_path, current)
    if not result.ok:
        from accounts.notifications.models import Kind, Level
        from accounts.notifications.services import operator_notify

        lines = "\n".join(d.line() for d in result.divergences)
        operator_notify(
            kind=Kind.ERROR,
            title="Shadow database diverges from the primary",
            body=f"Verification at {result.at} found differences:\n{lines}",
            data={"shadow": result.as_dict()},
            level=Level.ERROR,
        )
    return result.as_dict()
