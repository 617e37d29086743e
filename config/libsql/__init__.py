"""Django database backend for libSQL: ENGINE "config.libsql".

NAME is a local file path (embedded, the default) or a libsql://, http(s):// or ws(s):// URL of a
sqld/Turso server; OPTIONS may carry auth_token, sync_url (makes the local file an embedded replica
of that server), sync_interval (seconds, 0 = only on connect and on demand), timeout and
init_command. What the driver cannot do, and what replaces it, is described in driver.py and
operations.py.
"""

from __future__ import annotations


def sync(alias: str = "default") -> None:
    """Pull the primary's latest writes into the embedded replica behind `alias`."""
    from django.db import connections

    connections[alias].sync()  # type: ignore[attr-defined]
