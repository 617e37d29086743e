"""The Django side of shadow mode: the installation's Shadow, status for pages and /healthz, alerts."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from config import metrics
from config.shadow import state as state_file
from config.shadow.operations import Shadow
from config.shadow.verify import Verification, verify

logger = logging.getLogger(__name__)


def shadow_get(*, timeout: float = 30.0) -> Shadow:
    """The installation's shadow; `timeout` bounds how long a busy database is waited for (seconds)."""
    return Shadow(
        state_path=settings.SHADOW_STATE_FILE, token=settings.LIBSQL_AUTH_TOKEN or "", timeout=timeout
    )


def current_primary_url() -> str:
    """The primary as a URL the shadow understands (`file:PATH` for the embedded file)."""
    url = str(settings.DATABASE_URL)
    return url if ":" in url.split("/")[0] else f"file:{url}"


def shadow_status(*, check: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """`Shadow.status`, never raising: an unreadable state or database is reported as an error."""
    try:
        return shadow_get(timeout=timeout).status(check=check)
    except Exception as exc:  # a status page reports every failure rather than raising
        logger.warning("shadow status failed: %s", exc)
        metrics.shadow_state("error")
        return {"state": "error", "error": str(exc)}


def shadow_configured() -> bool:
    """Shadow mode is on (shadowing or cut over): its state file exists. An unreadable file counts as
    on, so its processes run and report the fault rather than hide it."""
    try:
        return state_file.load(settings.SHADOW_STATE_FILE) is not None
    except ValueError:
        return True


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
        # Imported here: config.health imports this module, and config/ loads before the app registry
        # that accounts' models need.
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


def shadow_after_migrate(*, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: capture triggers back on rebuilt tables, schema and changed tables to the shadow.

    A shadow that cannot be reached is only warned about: the migration stands, and
    `manage.py shadow resync` finishes the job once it is back (until then verification fails)."""
    if using != "default":
        return
    shadow = shadow_get()
    try:
        if shadow.state() is None:
            return
        copied = shadow.resync()
    except Exception as exc:  # a migration must not fail because the shadow is away
        logger.warning("shadow: schema not synced after migrate (%s); run `manage.py shadow resync`", exc)
        return
    if copied:
        logger.info("shadow: tables copied again after migrate: %s", ", ".join(copied))
