"""Start-up warnings about settings that work on one host but not across several."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


def shared_database_warnings() -> list[str]:
    """Warnings for a development install whose database other hosts can reach.

    Without DJANGO_SECRET_KEY / BRUTE_FIELD_KEY each host makes its own under var/: a session signed
    on one host is refused by another, and an API key encrypted by one cannot be read by another.
    A remote database (sqld, Turso) or an embedded replica is the sign that more than one process
    on more than one host shares the database.
    """
    if settings.PRODUCTION:
        return []  # production requires both keys from the environment
    db = settings.DATABASES["default"]
    shared = not str(db["NAME"]).startswith("/") or "sync_url" in db.get("OPTIONS", {})  # type: ignore[operator]
    if not shared:
        return []
    missing = [name for name in ("DJANGO_SECRET_KEY", "BRUTE_FIELD_KEY") if not os.environ.get(name)]
    if not missing:
        return []
    return [
        f"The database is shared ({str(settings.DATABASE_URL).split('?')[0]}) but {' and '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not set: each host keeps its own under var/, so sessions "
        "and encrypted API keys do not carry across hosts. Set the same value on every host."
    ]


@register(deploy=False)
def check_shared_database(app_configs: Any, **kwargs: Any) -> list[Warning]:
    return [Warning(text, id="brute.W001") for text in shared_database_warnings()]
