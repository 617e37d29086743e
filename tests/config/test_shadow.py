"""Shadow mode against a real sqld, under a mixed write load (orders, fills, balances, notifications).

The story of one test, as an operator would live it: writers run all along; `start` snapshots the
embedded file to sqld; the sqld is killed and restarted while the writers go on; then cut-over
(the writers move to sqld, as restarted processes would) and roll-back (they move back). At each
step the writers pause, the shipper drains, and the two databases are compared twice: by the
shadow's own verification and by an independent row-by-row comparison of every table here, plus
every order the writers saw committed must be on the current primary.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections, transaction

from accounts.models import User
from accounts.notifications.models import Kind, Notification
from config.libsql.testing import wait_for_port
from config.shadow.core import OWN_TABLES, app_tables, q
from config.shadow.db import Db, open_db
from config.shadow.operations import Shadow
from config.shadow.verify import verify
from tests.config.conftest import Sqld, database_alias, settings_for
from trading.models import Balance, Fill, Order

pytestmark = pytest.mark.sqld

WRITERS = 3


class Load:
    """Writer threads placing paper orders with a fill, a balance move and a notification each."""

    def __init__(self, alias: str, user_id: int) -> None:
        self.alias = alias  # the primary's alias; moved by the test, as a process restart would
        self.user_id = user_id
        self.committed: list[str] = []  # client order ids whose transaction committed
        self.failures = 0
        self.errors: list[str] = []  # the first few, for a failing assertion's message
        self.stop = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.idle = [threading.Event() for _ in range(WRITERS)]
        self.threads = [threading.Thread(target=self._write, args=(n,)) for n in range(WRITERS)]
        self.lock = threading.Lock()

    def _write(self, writer: int) -> None:
        n = 0
        while not self.stop.is_set():
            if not self.running.is_set():
                self.idle[writer].set()
                self.running.wait(0.05)
                continue
            self.idle[writer].clear()
            alias = self.alias
            n += 1
            cid = f"w{writer}n{n}"
            try:
                with transaction.atomic(using=alias):
                    order = Order.objects.using(alias).create(
                        user_id=self.user_id,
                        mode="paper",
                        symbol="SOLUSDT",
                        side="BUY",
                        type="MARKET",
                        client_order_id=cid,
                        status="FILLED",
                        quantity=Decimal("0.05"),
                        executed_qty=Decimal("0.05"),
                        cummulative_quote_qty=Decimal("7.5"),
                    )
                    Fill.objects.using(alias).create(
                        order=order,
                        trade_id=f"t{cid}",
                        price=Decimal("150"),
                        qty=Decimal("0.05"),
                        quote_qty=Decimal("7.5"),
                        commission=Decimal("0.0075"),
                        commission_asset="USDT",
                    )
                    balance = Balance.objects.using(alias).get(user_id=self.user_id, asset="SOL")
                    balance.free += Decimal("0.05")  # money is exact text: no SQL arithmetic on it
                    balance.save(update_fields=["free", "updated"])
                    if n % 5 == 0:  # some rows change again and some go away
                        Order.objects.using(alias).filter(client_order_id=f"w{writer}n{n - 3}").update(
                            error="late"
                        )
                        Notification.objects.using(alias).filter(
                            user_id=self.user_id, title=f"{cid}-old"
                        ).delete()
                    Notification.objects.using(alias).create(
                        user_id=self.user_id, kind=Kind.ORDER_FILLED, title=cid, body="filled", data={"n": n}
                    )
                with self.lock:
                    self.committed.append(cid)
            except Exception as exc:  # the fence after a cut-over, or busy: counted, never as committed
                with self.lock:
                    self.failures += 1
                    if len(self.errors) < 5:
                        self.errors.append(repr(exc))
                connections[alias].close()
                time.sleep(0.02)
        connections[self.alias].close()
        self.idle[writer].set()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.running.set()
        for thread in self.threads:
            thread.join(30)

    def pause(self) -> None:
        self.running.clear()
        for event in self.idle:
            assert event.wait(30), "a writer did not pause"

    def resume(self) -> None:
        for event in self.idle:
            event.clear()
        self.running.set()


def dump(db: Db) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every app table, in rowid order, read independently of the shadow's code."""
    names = [
        n
        for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {
        name: db.execute(f"SELECT rowid, * FROM {q(name)} ORDER BY rowid")
        for name in sorted(names)
        if name not in OWN_TABLES
    }


def drained(shadow: Shadow, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = shadow.status()
        if status.get("lag_commits") == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"the shadow did not catch up: {shadow.status()}")


def compare(shadow: Shadow, load: Load) -> None:
    """Writers paused and the shadow drained: verification clean, every row identical, no order lost."""
    load.pause()
    drained(shadow)
    state = shadow.state()
    assert state is not None
    primary, other = shadow.open(state["primary"]), shadow.open(state["shadow"])
    try:
        result = verify(primary, other)
        assert result.ok, result.as_dict()
        assert result.rows > 0
        mine, theirs = dump(primary), dump(other)
        assert mine.keys() == theirs.keys()
        for table in mine:
            assert mine[table] == theirs[table], f"{table} differs"
        orders = {cid for (cid,) in primary.execute("SELECT client_order_id FROM trading_order")}
        missing = set(load.committed) - orders
        assert not missing, f"committed orders lost: {sorted(missing)[:5]}"
        assert len(mine["trading_fill"]) == len(load.committed)
        balance = Balance.objects.using(load.alias).get(user_id=load.user_id, asset="SOL")
        assert balance.free == Decimal("0.05") * len(load.committed)
    finally:
        primary.close()
        other.close()
    load.resume()


def restart(process: subprocess.Popen[bytes], log: Path) -> subprocess.Popen[bytes]:
    """Kills sqld (SIGKILL, no clean shutdown) and starts it again on its port and data folder."""
    arguments = [str(arg) for arg in process.args]  # type: ignore[union-attr]  # started with a list
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    time.sleep(1.0)  # an outage, while the writers go on
    with log.open("ab") as out:
        again = subprocess.Popen(arguments, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    port = int(arguments[-1].rsplit(":", 1)[1])
    wait_for_port(port, again, log)
    return again


@pytest.fixture
def primary_alias(django_db_setup: None, django_db_blocker: Any, tmp_path: Path) -> Iterator[str]:
    """The embedded file as the app opens it (config.sqlite: stdlib sqlite3, IMMEDIATE), migrated."""
    alias = "shadow_primary"
    connections.settings[alias] = {
        **settings_for(str(tmp_path / "brute.db")),
        "ENGINE": "config.sqlite",
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
    try:
        with django_db_blocker.unblock():
            call_command("migrate", database=alias, interactive=False, verbosity=0)
            yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def test_shadow_start_outage_cutover_rollback(primary_alias: str, sqld_servers: Sqld, tmp_path: Path) -> None:
    url = sqld_servers.start("shadow")
    process = sqld_servers.processes[-1]
    log = sqld_servers.workdir / "shadow" / "sqld.log"
    user = User.objects.db_manager(primary_alias).create_user("shadow@example.com", "a long password 123")
    Balance.objects.using(primary_alias).create(user=user, mode="paper", asset="SOL", free=Decimal(0))
    shadow = Shadow(tmp_path / "shadow.json", token=sqld_servers.token)
    file_url = f"file:{tmp_path / 'brute.db'}"

    sqld_alias = database_alias("shadow_sqld", url, {"auth_token": sqld_servers.token})
    with sqld_alias as sqld_alias_name, Load(primary_alias, user.pk) as load:
        time.sleep(1.0)
        shadow.start(file_url, url)
        stop = threading.Event()
        shipper = threading.Thread(target=shadow.ship, kwargs={"until": stop.is_set, "retry": 0.3})
        shipper.start()
        try:
            time.sleep(1.0)
            compare(shadow, load)

            # sqld dies mid-load: the primary's writes go on; the shadow catches up after.
            before = len(load.committed)
            process = sqld_servers.processes[-1] = restart(process, log)
            assert len(load.committed) > before, f"writes stalled while the shadow was down: {load.errors}"
            time.sleep(1.0)
            compare(shadow, load)

            # Cut-over under load; the writers then move to sqld, as restarted processes would.
            state = shadow.cutover()
            assert state["primary"] == url
            assert state["last_verification"]["ok"]
            failures = load.failures
            time.sleep(0.3)  # writers still on the old primary are refused by the fence
            assert load.failures > failures
            load.alias = sqld_alias_name
            time.sleep(1.5)
            compare(shadow, load)

            # Roll-back: every write made on sqld since the cut-over comes home.
            on_sqld = len(load.committed)
            state = shadow.rollback()
            assert state["primary"] == file_url
            load.alias = primary_alias
            time.sleep(1.0)
            compare(shadow, load)
            assert len(load.committed) > on_sqld
        finally:
            stop.set()
            shipper.join(30)
    assert Order.objects.using(primary_alias).count() == len(load.committed)


def test_verification_reports_the_divergent_table_and_key_range(
    primary_alias: str, sqld_servers: Sqld, tmp_path: Path
) -> None:
    url = sqld_servers.start("diverge")
    user = User.objects.db_manager(primary_alias).create_user("d@example.com", "a long password 123")
    for n in range(30):
        Notification.objects.using(primary_alias).create(user=user, kind=Kind.ERROR, title=f"n{n}")
    shadow = Shadow(tmp_path / "shadow.json", token=sqld_servers.token)
    shadow.start(f"file:{tmp_path / 'brute.db'}", url)
    target = open_db(url, token=sqld_servers.token)
    primary = open_db(f"file:{tmp_path / 'brute.db'}")
    try:
        assert verify(primary, target).ok
        # A write that bypassed the shadow (opening the fence as only the shipper does).
        with target.transaction():
            target.execute("UPDATE shadow_fence SET open = 1")
            target.execute("UPDATE notifications_notification SET title = 'tampered' WHERE title = 'n7'")
            target.execute("UPDATE shadow_fence SET open = 0")
        result = verify(primary, target, rechecks=0)
        assert [(d.table, d.low, d.high) for d in result.divergences] == [
            ("notifications_notification", 0, 999)
        ]
        # A process that still points at the shadow cannot write to it.
        with pytest.raises(Exception, match="not the primary"):
            target.execute("DELETE FROM notifications_notification")
        assert {t.name for t in app_tables(target)} == {t.name for t in app_tables(primary)}
    finally:
        target.close()
        primary.close()


def test_command_reports_bad_input_in_one_line(tmp_path: Path, settings: Any) -> None:
    settings.SHADOW_STATE_FILE = tmp_path / "shadow.json"
    settings.DATABASE_URL = f"file:{tmp_path / 'missing.db'}"
    out = io.StringIO()
    call_command("shadow", "status", stdout=out)
    assert json.loads(out.getvalue()) == {"state": "off"}
    with pytest.raises(CommandError, match="shadow mode is off"):
        call_command("shadow", "cutover")
    with pytest.raises(CommandError, match="unable to open database file"):
        call_command("shadow", "start", "--to", "http://127.0.0.1:9")
    assert not (tmp_path / "missing.db").exists()
    assert not (tmp_path / "shadow.json").exists()
