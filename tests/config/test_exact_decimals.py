"""Exact money columns (config/fields.py) on the embedded file (stdlib sqlite3) and on a real sqld."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, NotSupportedError, connections
from django.db.models import Max, Min, Sum
from django.test import Client, override_settings

from accounts.models import Role, User
from accounts.tokens import api_token_create
from backups import services as backups
from config.fields import decode, encode, exact_sum
from tests.config.conftest import Sqld, settings_for
from trading.models import Balance, Mode

EXACT = [Decimal("12345672.12345678"), Decimal("3.123456789012345678"), Decimal("0.000000011648")]


@contextmanager
def alias_on(alias: str, engine: str, name: str, options: dict[str, Any]) -> Iterator[str]:
    connections.settings[alias] = {**settings_for(name, options), "ENGINE": engine}
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


@pytest.fixture(scope="module", params=["file", "sqld"])
def exact_db(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
    sqld_servers: Sqld,
) -> Iterator[str]:
    """A migrated database: the embedded default backend on a file, then the libSQL one on sqld."""
    if request.param == "file":
        engine, options = "config.sqlite", {"transaction_mode": "IMMEDIATE"}
        name = str(tmp_path_factory.mktemp("exact") / "brute.db")
    else:
        engine, options = "config.libsql", {"auth_token": sqld_servers.token}
        name = sqld_servers.start("exact")
    with alias_on(f"exact_{request.param}", engine, name, options) as alias, django_db_blocker.unblock():
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        yield alias


def owner_on(alias: str) -> User:
    email = f"owner-{random.getrandbits(40)}@example.com"
    return User.objects.db_manager(alias).create_user(email, "correct horse battery", role=Role.TRADER)


def test_the_encoding_round_trips_and_sorts_like_the_numbers() -> None:
    rng = random.Random(11)
    values = [
        *EXACT,
        Decimal(0),
        Decimal("-0.5"),
        Decimal("-1"),
        Decimal("999999999999999999.999999999999999999"),
    ]
    units = [rng.randint(0, 10**36 - 1) // 10 ** rng.randint(0, 35) for _ in range(500)]
    values += [Decimal(u).scaleb(-18, context=Context(prec=40)) for u in units]
    values += [v.copy_negate() for v in values]
    assert [decode(encode(v)) for v in values] == values
    assert sorted(values, key=encode) == sorted(values)


@pytest.mark.parametrize("bad", [Decimal("1e18"), Decimal("1e-19"), Decimal("NaN"), Decimal("Infinity")])
def test_the_encoding_refuses_what_it_cannot_hold_exactly(bad: Decimal) -> None:
    with pytest.raises(ValueError, match=r"finite|digits|places"):
        encode(bad)


def test_amounts_round_trip_exactly_and_sort_and_filter_as_numbers(exact_db: str) -> None:
    user = owner_on(exact_db)
    amounts = [*EXACT, Decimal("-0"), Decimal("10"), Decimal("2.5")]
    for i, amount in enumerate(amounts):
        Balance.objects.using(exact_db).create(user=user, mode=Mode.PAPER, asset=f"A{i}", free=amount)
    rows = Balance.objects.using(exact_db).filter(user=user)

    assert {b.asset: b.free for b in rows} == {f"A{i}": a for i, a in enumerate(amounts)}
    assert [b.free for b in rows.order_by("free")] == sorted(amounts)
    assert [b.free for b in rows.filter(free__gt=Decimal("3.12345678901234567"))] == [
        a for a in amounts if a > Decimal("3.12345678901234567")
    ]
    assert rows.filter(free=Decimal("3.123456789012345678")).count() == 1
    assert rows.filter(free=Decimal("3.123456789012345677")).count() == 0
    assert rows.aggregate(hi=Max("free"), lo=Min("free")) == {"hi": max(amounts), "lo": min(amounts)}


def test_the_check_constraints_compare_numbers(exact_db: str) -> None:
    user = owner_on(exact_db)
    with pytest.raises(IntegrityError):
        Balance.objects.using(exact_db).create(user=user, mode=Mode.PAPER, asset="NEG", free=Decimal("-0.1"))


def test_sql_arithmetic_on_amounts_is_refused_not_wrong(exact_db: str) -> None:
    user = owner_on(exact_db)
    Balance.objects.using(exact_db).create(user=user, mode=Mode.PAPER, asset="X", free=Decimal("1.5"))
    rows = Balance.objects.using(exact_db).filter(user=user)
    # The default backend refuses the query; another SQLite backend gets a number back, refused on read.
    with pytest.raises((NotSupportedError, TypeError)):
        rows.aggregate(total=Sum("free"))
    assert exact_sum(rows.values_list("free", flat=True)) == Decimal("1.5")


def test_existing_rows_are_migrated_to_the_exact_text(tmp_path: Path, django_db_blocker: Any) -> None:
    name = str(tmp_path / "old.db")
    with alias_on("legacy", "config.sqlite", name, {}) as alias, django_db_blocker.unblock():
        call_command("migrate", "trading", "0002", database=alias, interactive=False, verbosity=0)
        call_command("migrate", "sniper", "0002", database=alias, interactive=False, verbosity=0)
        call_command("migrate", "accounts", database=alias, interactive=False, verbosity=0)  # today's User
        user = owner_on(alias)
        with connections[alias].cursor() as cursor:
            for asset, amount in (("USDT", "12345672.12345678"), ("BTC", "3.123456789012345678")):
                cursor.execute(
                    "INSERT INTO trading_balance (user_id, mode, asset, free, locked, updated) "
                    "VALUES (%s, 'paper', %s, %s, 0, '2026-01-01 00:00:00')",
                    [user.pk, asset, amount],
                )
            cursor.execute("SELECT DISTINCT typeof(free) FROM trading_balance")
            assert cursor.fetchall() == [("real",)]  # what NUMERIC affinity did to amounts
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        balances = {b.asset: (b.free, b.locked) for b in Balance.objects.using(alias).filter(user=user)}
        raw = sqlite3.connect(name).execute("SELECT free FROM trading_balance ORDER BY asset").fetchall()

    # The shortest reading of each stored double: all 16 digits of the first (Django's 15-digit
    # reader had cut it), the nearest double to the second (its last digits were gone at insert).
    assert balances == {
        "USDT": (Decimal("12345672.12345678"), Decimal(0)),
        "BTC": (Decimal("3.1234567890123457"), Decimal(0)),
    }
    assert raw == [(encode(Decimal("3.1234567890123457")),), (encode(Decimal("12345672.12345678")),)]


@pytest.mark.django_db(transaction=True)
def test_amounts_round_trip_through_the_api_and_a_backup(tmp_path: Path) -> None:
    user = User.objects.create_user("exact@example.com", "correct horse battery", role=Role.TRADER)
    for asset, amount in zip(("AAA", "BBB", "CCC"), EXACT, strict=True):
        Balance.objects.create(user=user, mode=Mode.PAPER, asset=asset, free=amount)
    token = api_token_create(user=user, name="t", scopes=["read"])[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def api_amounts() -> dict[str, str]:
        body = client.get("/api/v1/balances").json()
        return {b["asset"]: b["free"] for b in body["balances"]}

    with override_settings(
        BACKUP_DIR=tmp_path / "backups",
        MEDIA_ROOT=tmp_path / "media",
        BACKUP_STORAGE=None,
        BACKUP_ENCRYPT=False,
    ):
        summary = backups.backup_create()
        Balance.objects.filter(user=user).update(free=Decimal(1))
        backups.backup_restore(backup_id=summary.id, overwrite=True)
        restored = {b.asset: b.free for b in Balance.objects.filter(user=user)}

    expected = {"AAA": "12345672.12345678", "BBB": "3.123456789012345678", "CCC": "0.000000011648"}
    assert api_amounts() == expected
    assert restored == dict(zip(("AAA", "BBB", "CCC"), EXACT, strict=True))


@pytest.mark.sqld
def test_amounts_round_trip_through_a_sqld_backup(
    sqld_servers: Sqld, django_db_setup: None, django_db_blocker: Any, tmp_path: Path
) -> None:
    url = sqld_servers.start("exact-backup")
    options = {"auth_token": sqld_servers.token}
    with (
        alias_on("remote", "config.libsql", url, options) as alias,
        django_db_blocker.unblock(),
        override_settings(
            BACKUP_DATABASE=url,
            BACKUP_DIR=tmp_path / "backups",
            MEDIA_ROOT=tmp_path / "media",
            BACKUP_STORAGE=None,
            BACKUP_ENCRYPT=False,
        ),
    ):
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        user = owner_on(alias)
        for asset, amount in zip(("AAA", "BBB", "CCC"), EXACT, strict=True):
            Balance.objects.using(alias).create(user=user, mode=Mode.PAPER, asset=asset, free=amount)
        summary = backups.backup_create()
        Balance.objects.using(alias).filter(user=user).update(free=Decimal(1))
        backups.backup_restore(backup_id=summary.id, overwrite=True)
        restored = {b.asset: b.free for b in Balance.objects.using(alias).filter(user=user)}

    assert restored == dict(zip(("AAA", "BBB", "CCC"), EXACT, strict=True))
