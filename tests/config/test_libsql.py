"""The libSQL backend against an embedded file and a real sqld (the `libsql_db` alias runs both)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db import (
    IntegrityError,
    NotSupportedError,
    OperationalError,
    connections,
    transaction,
)
from django.db.models import DecimalField, Value
from django.db.models.functions import (
    MD5,
    ExtractIsoWeekDay,
    ExtractIsoYear,
    ExtractQuarter,
    ExtractWeek,
    ExtractWeekDay,
    Log,
    TruncDate,
    TruncHour,
    TruncMonth,
    TruncQuarter,
    TruncTime,
    TruncWeek,
)

from accounts.models import User

ROOT = Path(__file__).resolve().parents[2]
BIG = [2**63 - 1, 2**53 + 1, -(2**63), 2**31, -(2**31) - 1]


def new_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def make_user(alias: str, **extra: object) -> User:
    return User.objects.db_manager(alias).create_user(new_email(), "correct horse battery", **extra)


def scratch_table(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        columns = "id INTEGER PRIMARY KEY, big BIGINT, amount DECIMAL, note TEXT"
        cursor.execute(f"CREATE TABLE IF NOT EXISTS scratch ({columns})")
        cursor.execute("DELETE FROM scratch")


def test_it_migrates_a_fresh_database(libsql_db: str) -> None:
    tables = connections[libsql_db].introspection.table_names()
    assert {"accounts_user", "django_migrations", "django_session", "auth_permission"} <= set(tables)
    assert Group.objects.using(libsql_db).count() == 0


def test_it_creates_reads_updates_and_deletes_users(libsql_db: str) -> None:
    user = make_user(libsql_db, display_name="Ada")
    assert User.objects.using(libsql_db).get(pk=user.pk).display_name == "Ada"
    assert User.objects.using(libsql_db).filter(pk=user.pk).update(display_name="Grace") == 1
    assert User.objects.using(libsql_db).get(email=user.email).display_name == "Grace"
    deleted, _ = User.objects.using(libsql_db).filter(pk=user.pk).delete()
    assert deleted == 1
    assert not User.objects.using(libsql_db).filter(pk=user.pk).exists()


def test_it_rolls_back_atomic_block(libsql_db: str) -> None:
    email = new_email()

    def create_then_fail() -> None:
        with transaction.atomic(using=libsql_db):
            User.objects.db_manager(libsql_db).create_user(email, "correct horse battery")
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert not User.objects.using(libsql_db).filter(email=email).exists()
    assert not connections[libsql_db].in_atomic_block


def test_it_rolls_back_only_the_inner_savepoint(libsql_db: str) -> None:
    kept, dropped = new_email(), new_email()

    def create_then_fail() -> None:
        with transaction.atomic(using=libsql_db):
            User.objects.db_manager(libsql_db).create_user(dropped, "correct horse battery")
            raise RuntimeError("abort inner")

    with transaction.atomic(using=libsql_db):
        User.objects.db_manager(libsql_db).create_user(kept, "correct horse battery")
        with pytest.raises(RuntimeError):
            create_then_fail()
    assert User.objects.using(libsql_db).filter(email=kept).exists()
    assert not User.objects.using(libsql_db).filter(email=dropped).exists()


def test_it_raises_integrity_error_on_a_duplicate_email(libsql_db: str) -> None:
    user = make_user(libsql_db)
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed"), transaction.atomic(using=libsql_db):
        User.objects.db_manager(libsql_db).create_user(user.email, "correct horse battery")
    assert User.objects.using(libsql_db).filter(email=user.email).count() == 1


def test_it_raises_operational_error_on_bad_sql(libsql_db: str) -> None:
    with pytest.raises(OperationalError, match="no such table"), connections[libsql_db].cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")


@pytest.mark.parametrize("value", BIG)
def test_it_round_trips_64_bit_integers(libsql_db: str, value: int) -> None:
    scratch_table(libsql_db)
    with connections[libsql_db].cursor() as cursor:
        cursor.execute("INSERT INTO scratch (big) VALUES (%s)", [value])
        cursor.execute("SELECT big, typeof(big), %s FROM scratch WHERE big = %s", [value, value])
        assert cursor.fetchall() == [(value, "integer", value)]


def test_it_round_trips_a_64_bit_primary_key_through_the_orm(libsql_db: str) -> None:
    pk = 2**53 + 1 + uuid.uuid4().int % 1000
    User.objects.using(libsql_db).create(pk=pk, email=new_email())
    assert User.objects.using(libsql_db).get(pk=pk).pk == pk
    found = User.objects.using(libsql_db).filter(pk__in=[pk, 2**63 - 1]).values_list("pk", flat=True)
    assert list(found) == [pk]


def test_it_round_trips_decimals(libsql_db: str) -> None:
    scratch_table(libsql_db)
    exact, money = Decimal("123456789.123456789"), Decimal("1234.5678")
    with connections[libsql_db].cursor() as cursor:
        cursor.execute("INSERT INTO scratch (note, amount) VALUES (%s, %s)", [exact, money])
        cursor.execute("SELECT note, amount FROM scratch")
        note, amount = cursor.fetchone()
    assert Decimal(note) == exact
    assert Decimal(str(amount)) == money
    field = DecimalField(max_digits=12, decimal_places=4)
    annotated = User.objects.using(libsql_db).annotate(v=Value(money, output_field=field))
    make_user(libsql_db)
    assert annotated.values_list("v", flat=True).first() == money


def test_it_binds_datetimes_bools_and_bytes_like_sqlite3(libsql_db: str) -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    with connections[libsql_db].cursor() as cursor:
        cursor.execute("SELECT %s, %s, %s, %s", [moment, moment.date(), True, memoryview(b"\x00\x01")])
        assert cursor.fetchone() == ("2024-05-06 07:08:09.123456", "2024-05-06", 1, b"\x00\x01")


def test_it_reports_rowcount_and_description_like_sqlite3(libsql_db: str) -> None:
    scratch_table(libsql_db)
    with connections[libsql_db].cursor() as cursor:
        cursor.executemany("INSERT INTO scratch (note) VALUES (%s)", [["a"], ["b"], ["c"]])
        assert cursor.rowcount == 3
        cursor.execute("UPDATE scratch SET note = 'z' WHERE note IN ('a', 'b')")
        assert cursor.rowcount == 2
        cursor.execute("SELECT note FROM scratch WHERE 0")
        assert cursor.description[0][0] == "note"
        assert cursor.fetchall() == []
        cursor.execute("DELETE FROM scratch WHERE note = %(note)s", {"note": "z"})
        assert cursor.rowcount == 2


def test_it_extracts_and_truncates_dates_in_plain_sql(libsql_db: str) -> None:
    # A Monday in ISO week 1 of 2025, in the fourth quarter of 2024.
    joined = datetime.datetime(2024, 12, 30, 15, 45, 10, 250, tzinfo=datetime.UTC)
    user = make_user(libsql_db, date_joined=joined)
    users = User.objects.using(libsql_db).filter(pk=user.pk)
    assert users.filter(date_joined__year=2024, date_joined__month=12, date_joined__hour=15).exists()
    assert users.filter(date_joined__date=joined.date(), date_joined__time=joined.time().replace(tzinfo=None))
    row = users.annotate(
        week=ExtractWeek("date_joined"),
        iso_year=ExtractIsoYear("date_joined"),
        week_day=ExtractWeekDay("date_joined"),
        iso_week_day=ExtractIsoWeekDay("date_joined"),
        quarter=ExtractQuarter("date_joined"),
        trunc_week=TruncWeek("date_joined"),
        trunc_quarter=TruncQuarter("date_joined"),
        trunc_month=TruncMonth("date_joined"),
        trunc_hour=TruncHour("date_joined"),
        day=TruncDate("date_joined"),
        time=TruncTime("date_joined"),
    ).values()[0]
    extracted = row["week"], row["iso_year"], row["week_day"], row["iso_week_day"], row["quarter"]
    assert extracted == (1, 2025, 2, 1, 4)
    utc = datetime.UTC
    assert row["trunc_week"] == datetime.datetime(2024, 12, 30, tzinfo=utc)
    assert row["trunc_quarter"] == datetime.datetime(2024, 10, 1, tzinfo=utc)
    assert row["trunc_month"] == datetime.datetime(2024, 12, 1, tzinfo=utc)
    assert row["trunc_hour"] == datetime.datetime(2024, 12, 30, 15, tzinfo=utc)
    assert (row["day"], row["time"]) == (joined.date(), datetime.time(15, 45, 10, 250))


def test_it_orders_randomly_and_takes_logarithms_without_python_functions(libsql_db: str) -> None:
    make_user(libsql_db)
    assert User.objects.using(libsql_db).order_by("?").first() is not None
    logs = User.objects.using(libsql_db).annotate(v=Log(Value(2.0), Value(8.0)))
    value = logs.values_list("v", flat=True)[0]
    assert value == pytest.approx(3.0)


def test_it_refuses_python_only_functions_clearly(libsql_db: str) -> None:
    with pytest.raises(NotSupportedError, match="MD5"):
        list(User.objects.using(libsql_db).annotate(h=MD5("email")))


def test_it_refuses_other_time_zones_clearly(libsql_db: str) -> None:
    paris = TruncDate("date_joined", tzinfo=ZoneInfo("Europe/Paris"))
    with pytest.raises(NotSupportedError, match="time zone"):
        list(User.objects.using(libsql_db).annotate(day=paris))
