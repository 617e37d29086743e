"""The shipper's savings keep every guarantee (issue 16's commit latency): the shadow's transaction as
one request is all or nothing, a remembered position still loses a race safely, a remembered schema
follows a migration, and "nothing new" on a local primary never hides a commit. Against a real sqld
(the one-request transaction is the remote path), from a small embedded file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from config.shadow.core import PositionMoved, Shipper, prune, sync_schema
from config.shadow.db import Db, StatementFailed, open_db
from config.shadow.operations import Shadow
from config.shadow.verify import verify
from tests.config.conftest import Sqld

pytestmark = pytest.mark.sqld


def make_primary(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT NOT NULL, x REAL)")
        db.executemany("INSERT INTO items (v, x) VALUES (?, ?)", [(f"row {n}", n / 3) for n in range(5)])
    db.close()


def write(path: Path, sql: str, *params: object) -> None:
    """A commit by another connection, as the app's writers make them."""
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, params)
    db.close()


def items(db: Db) -> list[tuple[object, ...]]:
    return db.execute("SELECT id, v, x FROM items ORDER BY id")


@pytest.fixture
def pair(sqld_servers: Sqld, tmp_path: Path) -> tuple[Path, Shadow]:
    path = tmp_path / "primary.db"
    make_primary(path)
    shadow = Shadow(tmp_path / "shadow.json", token=sqld_servers.token)
    shadow.start(f"file:{path}", sqld_servers.start(f"shipper-{tmp_path.name}"))
    return path, shadow


def test_one_request_transaction_is_all_or_nothing(pair: tuple[Path, Shadow]) -> None:
    _, shadow = pair
    _, target = shadow.databases()
    try:
        target.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        counts = target.apply(
            [("INSERT INTO scratch (v) VALUES (?)", [("a",), ("b",)]), ("UPDATE scratch SET v = 'c'", [()])]
        )
        assert counts == [2, 2]
        with pytest.raises(StatementFailed, match="NOT NULL") as failed:
            target.apply(
                [
                    ("INSERT INTO scratch (v) VALUES (?)", [("d",)]),
                    ("DELETE FROM scratch", [()]),
                    ("INSERT INTO scratch (v) VALUES (?)", [(None,)]),
                ]
            )
        assert failed.value.index == 2
        assert target.execute("SELECT v FROM scratch ORDER BY id") == [("c",), ("c",)]
        assert not target.execute("SELECT 1 FROM sqlite_master WHERE name = 'nothing'")  # usable after
    finally:
        target.close()


def test_a_shipper_with_a_stale_position_loses_the_race_and_applies_nothing(
    pair: tuple[Path, Shadow],
) -> None:
    path, shadow = pair
    first, late = Shipper(*shadow.databases()), Shipper(*shadow.databases())
    try:
        assert first.ship() == 0
        assert late.ship() == 0  # both now remember the same position
        write(path, "INSERT INTO items (v, x) VALUES ('new', 1.5)")
        assert first.ship() == 1
        write(path, "UPDATE items SET v = 'again' WHERE v = 'new'")
        applied = first.known_position()
        with pytest.raises(PositionMoved):
            late.ship()  # its remembered position is behind the shadow's: nothing of it applied
        assert shadow.databases()[1].execute("SELECT applied FROM shadow_position")[0][0] == applied
        assert late.ship() == 1  # the position read again: the one entry left goes
        with pytest.raises(PositionMoved):
            first.ship()  # now the first one is behind
        assert first.ship() == 0
        assert first.position == late.position
        primary, target = shadow.databases()
        assert items(primary) == items(target)
        assert ("again",) in [(v,) for _, v, _ in items(target)]
    finally:
        for shipper in (first, late):
            shipper.primary.close()
            shipper.shadow.close()


def test_a_remembered_schema_follows_a_migration(pair: tuple[Path, Shadow]) -> None:
    path, shadow = pair
    shipper = Shipper(*shadow.databases())
    try:
        write(path, "INSERT INTO items (v) VALUES ('before')")
        assert shipper.ship() == 1
        write(path, "CREATE TABLE later (id INTEGER PRIMARY KEY, v TEXT)")
        sync_schema(shipper.primary, shipper.shadow)  # what the post_migrate hook runs
        write(path, "INSERT INTO later (v) VALUES ('after the migration')")
        assert shipper.ship() == 1
        assert shipper.shadow.execute("SELECT v FROM later") == [("after the migration",)]
    finally:
        shipper.primary.close()
        shipper.shadow.close()


def test_nothing_new_is_cheap_and_never_hides_a_commit(pair: tuple[Path, Shadow]) -> None:
    path, shadow = pair
    shipper = Shipper(*shadow.databases())
    try:
        for n in range(3):
            assert shipper.ship() == 0
            assert shipper.ship() == 0  # answered by data_version, no read transaction
            write(path, "INSERT INTO items (v) VALUES (?)", f"commit {n}")
            assert shipper.ship() == 1
        # The shipper's own pruning commit on the primary does not count as news, nor hide any.
        assert shipper.primary.execute(
            "DELETE FROM shadow_log WHERE id <= ? RETURNING id", [shipper.position]
        )
        assert shipper.ship() == 0
        write(path, "DELETE FROM items WHERE v = 'commit 0'")
        assert shipper.ship() == 1
        assert items(shipper.primary) == items(shipper.shadow)
        assert verify(shipper.primary, shipper.shadow, rechecks=0).ok
    finally:
        shipper.primary.close()
        shipper.shadow.close()


def test_local_apply_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    sqlite3.connect(path).close()
    db = open_db(f"file:{path}")
    try:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        with pytest.raises(StatementFailed) as failed:
            db.apply(
                [
                    ("INSERT INTO t (v) VALUES (?)", [("a",), ("b",)]),
                    ("INSERT INTO t (v) VALUES (NULL)", [()]),
                ]
            )
        assert failed.value.index == 1
        assert db.execute("SELECT count(*) FROM t") == [(0,)]
        assert db.apply([("INSERT INTO t (v) VALUES (?)", [("a",), ("b",)]), ("DELETE FROM t", [()])]) == [
            2,
            2,
        ]
    finally:
        db.close()


def test_pruning_in_chunks_removes_every_applied_entry_and_no_other(pair: tuple[Path, Shadow]) -> None:
    path, shadow = pair
    shipper = Shipper(*shadow.databases())
    try:
        db = sqlite3.connect(path)
        with db:
            db.executemany("INSERT INTO items (v) VALUES (?)", [(f"bulk {n}",) for n in range(1234)])
        db.close()
        assert shipper.ship() == 1234
        write(path, "INSERT INTO items (v) VALUES ('not yet shipped')")
        assert prune(shipper.primary, shipper.shadow, position=shipper.position) == 1234
        assert shipper.primary.execute("SELECT count(*) FROM shadow_log") == [(1,)]
        assert shipper.ship() == 1
        assert items(shipper.primary) == items(shipper.shadow)
    finally:
        shipper.primary.close()
        shipper.shadow.close()
