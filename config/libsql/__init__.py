"""Django database backend for libSQL: ENGINE "config.libsql".

NAME is a local file path (embedded) or a libsql://, http(s):// or ws(s):// URL of a sqld/Turso
server (libsql:// means TLS; a plain-HTTP sqld needs http://). Remote URLs are served by hrana.py
(Hrana over HTTP, waits outside the GIL); files and embedded replicas by the `libsql` driver
(driver.py). Write transactions begin IMMEDIATE unless OPTIONS['transaction_mode'] says otherwise;
config.db.atomic_retry re-runs a whole transaction the server rolled back as busy. OPTIONS may carry
auth_token, sync_url (makes the local file an embedded replica of that server), sync_interval
(seconds; 0 = only on connect and through `sync()`), timeout (busy timeout, seconds) and
init_command. Test databases are always an embedded file: TEST NAME.

Not available, because the driver cannot register Python functions (NotSupportedError, or
"no such function" from the server): MD5/SHA*, LPad/RPad, Repeat, Mod (the % operator works),
StdDev/Variance, date arithmetic with durations and date subtraction, time zones other than the one
values are stored in (UTC), `iregex`. `regex` uses libSQL's built-in REGEXP locally (its own
syntax, no (?i)) and does not exist on sqld. Extract/Trunc lookups, order_by("?") and Log are
rewritten in plain SQL (operations.py, compiler.py).
"""

from __future__ import annotations


def sync(alias: str = "default") -> None:
    """Pull the primary's latest writes into the embedded replica behind `alias`."""
    # django.db imports this backend package while it sets up its connections.
    from django.db import connections

    connections[alias].sync()  # type: ignore[attr-defined]
