"""The Hrana-over-HTTP client behind remote libSQL URLs, against a real sqld."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connections, transaction

from config.libsql import driver, hrana
from tests.config.conftest import Sqld, database_alias

pytestmark = pytest.mark.sqld

EXACT = ["12345672.12345678", "3.123456789012345678", "0.000000011648"]


@pytest.fixture
def remote(sqld_servers: Sqld, django_db_blocker: Any) -> Any:
    url = sqld_servers.start("hrana")
    with django_db_blocker.unblock(), database_alias("hrana", url, {"auth_token": sqld_servers.token}):
        with connections["hrana"].cursor() as cursor:
            cursor.execute("CREATE TABLE amounts (id INTEGER PRIMARY KEY, amount TEXT, n BIGINT, raw BLOB)")
        yield "hrana"


def test_values_round_trip_exactly_and_decimals_travel_as_text(remote: str) -> None:
    with connections[remote].cursor() as cursor:
        for i, text in enumerate(EXACT):
            cursor.execute(
                "INSERT INTO amounts (amount, n, raw) VALUES (%s, %s, %s)",
                [Decimal(text), 2**63 - 1 - i, bytes([0, 255, i])],
            )
        cursor.execute("SELECT amount, typeof(amount), n, raw FROM amounts ORDER BY id")
        rows = cursor.fetchall()
        cursor.execute("SELECT typeof(%s), %s, %s", [Decimal("0.1"), 0.1, None])
        kinds = cursor.fetchone()
    assert [Decimal(amount) for amount, *_ in rows] == [Decimal(text) for text in EXACT]
    assert [row[1] for row in rows] == ["text"] * 3
    assert [row[2] for row in rows] == [2**63 - 1, 2**63 - 2, 2**63 - 3]
    assert [row[3] for row in rows] == [b"\x00\xff\x00", b"\x00\xff\x01", b"\x00\xff\x02"]
    assert kinds == ("text", 0.1, None)


def test_a_transaction_holds_a_stream_and_autocommit_statements_hold_none(remote: str) -> None:
    connection = connections[remote]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    raw = connection.connection
    assert (raw._baton, raw.in_transaction) == (None, False)
    with transaction.atomic(using=remote):
        connection.cursor().execute("INSERT INTO amounts (amount) VALUES ('1')")
        assert raw._baton is not None
        assert raw.in_transaction
    assert (raw._baton, raw.in_transaction) == (None, False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM amounts")
        assert cursor.fetchone() == (1,)


def test_a_failed_executemany_stops_at_the_failing_row(remote: str) -> None:
    with connections[remote].cursor() as cursor:
        cursor.execute("CREATE TABLE uniq (v TEXT UNIQUE)")
        with pytest.raises(Exception, match="UNIQUE"):
            cursor.executemany("INSERT INTO uniq VALUES (%s)", [["a"], ["a"], ["b"]])
        cursor.execute("SELECT v FROM uniq")
        assert cursor.fetchall() == [("a",)]


def test_a_write_transaction_begins_immediate(remote: str) -> None:
    # Two atomic blocks that read, then write: with a deferred BEGIN the second to write fails
    # with SQLITE_BUSY; with BEGIN IMMEDIATE the second waits on the server for the first.
    errors: list[BaseException] = []
    inside = threading.Event()

    def writer(wait: bool) -> None:
        try:
            with transaction.atomic(using=remote), connections[remote].cursor() as cursor:
                cursor.execute("SELECT count(*) FROM amounts")
                inside.set()
                if wait:
                    threading.Event().wait(0.3)
                cursor.execute("INSERT INTO amounts (amount) VALUES ('2')")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections[remote].close()

    first = threading.Thread(target=writer, args=(True,))
    first.start()
    inside.wait(5)
    writer(False)
    first.join()
    assert errors == []
    with connections[remote].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM amounts WHERE amount = '2'")
        assert cursor.fetchone() == (2,)


def test_fifty_concurrent_readers_on_long_lived_connections_get_no_errors(
    sqld_servers: Sqld, django_db_blocker: Any
) -> None:
    # Before: 50 readers with DATABASE_CONN_MAX_AGE=60 made sqld answer 429 "timed out while
    # opening database connection", each idle Django connection holding a server connection.
    url = sqld_servers.start("readers")
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(50)

    def reader() -> None:
        try:
            start.wait(30)
            for _ in range(20):
                with connections["readers"].cursor() as cursor:
                    cursor.execute("SELECT count(*), max(id) FROM things")
                    assert cursor.fetchone() == (100, 100)
            with lock:
                outcomes["ok"] += 1
        except Exception as exc:
            with lock:
                outcomes[f"{type(exc).__name__}: {exc}"[:200]] += 1
        finally:
            connections["readers"].close()

    with django_db_blocker.unblock(), database_alias("readers", url, {"auth_token": sqld_servers.token}):
        connections.settings["readers"]["CONN_MAX_AGE"] = 60
        with connections["readers"].cursor() as cursor:
            cursor.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
            cursor.executemany("INSERT INTO things (id) VALUES (%s)", [[i] for i in range(1, 101)])
        threads = [threading.Thread(target=reader) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert outcomes == Counter({"ok": 50})


def test_libsql_scheme_against_a_plain_http_sqld_says_to_use_http(
    sqld_servers: Sqld, django_db_blocker: Any
) -> None:
    url = sqld_servers.start("plain")
    tls_url = url.replace("http://", "libsql://")
    with (
        django_db_blocker.unblock(),
        database_alias("plain", tls_url, {"auth_token": sqld_servers.token}),
        pytest.raises(OperationalError) as caught,
    ):
        connections["plain"].ensure_connection()
    message = str(caught.value)
    assert "does not speak TLS" in message
    assert f"a local sqld without TLS is {url}" in message


def test_a_wrong_token_is_refused_at_connect(sqld_servers: Sqld, django_db_blocker: Any) -> None:
    url = sqld_servers.start("token")
    with (
        django_db_blocker.unblock(),
        database_alias("token", url, {"auth_token": "not-a-jwt"}),
        pytest.raises(OperationalError, match="refused the auth token"),
    ):
        connections["token"].ensure_connection()


def test_pipeline_urls() -> None:
    assert hrana.pipeline_url("libsql://db-org.turso.io") == "https://db-org.turso.io/v3/pipeline"
    assert hrana.pipeline_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/v3/pipeline"
    assert hrana.pipeline_url("wss://x.example") == "https://x.example/v3/pipeline"
    assert hrana.pipeline_url("ws://127.0.0.1:1") == "http://127.0.0.1:1/v3/pipeline"


def test_after_the_server_rolled_a_transaction_back_its_later_statements_are_refused(
    sqld_servers: Sqld,
) -> None:
    # Otherwise the rest of the block would run, and commit, statement by statement: half a transaction.
    url = sqld_servers.start("aborted")
    slow, other = (hrana.connect(url, auth_token=sqld_servers.token) for _ in range(2))
    slow.execute("CREATE TABLE t (x INTEGER)")
    slow.execute("BEGIN IMMEDIATE")
    slow.execute("INSERT INTO t VALUES (1)")

    def write_other() -> None:
        other.execute("BEGIN IMMEDIATE")  # waits on the server; after 5 s sqld hands it the lock
        other.execute("INSERT INTO t VALUES (2)")
        other.commit()

    thread = threading.Thread(target=write_other)
    thread.start()
    threading.Event().wait(5.8)
    with pytest.raises(driver.OperationalError, match="Transaction timed out"):
        slow.execute("INSERT INTO t VALUES (3)")
    with pytest.raises(driver.OperationalError, match="already rolled this transaction back"):
        slow.execute("INSERT INTO t VALUES (4)")
    with pytest.raises(driver.OperationalError, match="cannot commit"):
        slow.commit()
    thread.join(10)
    assert slow.execute("SELECT x FROM t").fetchall() == [(2,)]
    slow.close()
    other.close()


def test_an_autocommit_statement_refused_for_lack_of_a_server_connection_is_retried(
    sqld_servers: Sqld,
) -> None:
    # With one connection slot, a statement meets 429 "timed out while opening database connection"
    # while another stream holds a transaction. Nothing of it ran, so it is sent again until the
    # slot frees (within the connection's busy timeout) instead of failing the request.
    slot = ("--max-concurrent-connections", "1", "--connection-creation-timeout-sec", "1")
    url = sqld_servers.start("one-slot", extra=slot)
    holder = hrana.connect(url, auth_token=sqld_servers.token)
    waiter = hrana.connect(url, auth_token=sqld_servers.token, timeout=20)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    thread = threading.Thread(target=lambda: (threading.Event().wait(2.5), holder.commit()))
    thread.start()
    waiter.execute("INSERT INTO t VALUES (2)")
    thread.join(10)
    assert waiter.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
    holder.close()
    waiter.close()
