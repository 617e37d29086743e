"""Shadow mode's cost to the primary, and how far the shadow trails, under a paced write load.

The load is the app's own write transaction shape through the ORM on the embedded file
(config.sqlite, IMMEDIATE): an order, its fill, the balance moved, a notification, at RATE
transactions per second from WRITERS threads, for BENCH_SECONDS (default 30) per case. Case 1:
shadow off (baseline). Case 2: the same with `shadow start` to a real sqld on loopback and the
shipper in its own process (as `manage.py shadow run` runs it). Printed: commit latency p50/p99
(the whole atomic block, as a request sees it) and the lag (age of the oldest write not yet on the
shadow, sampled every 100 ms) p50/p99/max. Targets (issue 16): p99 on <= 2x off; lag p99 <= 1 s.

    .venv/bin/python -m bench shadow            # BENCH_SECONDS=300 for the issue's several minutes
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from bench._databases import database_settings

SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
WRITERS = 4
RATE = 40.0  # transactions per second, all writers together
ROOT = Path(__file__).resolve().parents[1]
SHIPPER = """
import sys, signal, threading
from pathlib import Path
from config.shadow.core import Shadow
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
Shadow(Path(sys.argv[1]), token=sys.argv[2]).ship(until=stop.is_set, idle=0.05)
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def load(alias: str, user_id: int, seconds: float, tag: str) -> list[float]:
    from django.db import connections, transaction

    from accounts.notifications.models import Kind, Notification
    from trading.models import Balance, Fill, Order

    latencies: list[float] = []
    lock = threading.Lock()
    interval = WRITERS / RATE

    def writer(n: int) -> None:
        due = time.perf_counter()
        end = due + seconds
        i = 0
        while time.perf_counter() < end:
            i += 1
            cid = f"{tag}{n}-{i}"
            started = time.perf_counter()
            with transaction.atomic(using=alias):
                order = Order.objects.using(alias).create(
                    user_id=user_id,
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
                    trade_id=cid,
                    price=Decimal("150"),
                    qty=Decimal("0.05"),
                    quote_qty=Decimal("7.5"),
                    commission=Decimal("0.0075"),
                    commission_asset="USDT",
                )
                balance = Balance.objects.using(alias).get(user_id=user_id, asset="SOL")
                balance.free += Decimal("0.05")
                balance.save(update_fields=["free", "updated"])
                Notification.objects.using(alias).create(user_id=user_id, kind=Kind.ORDER_FILLED, title=cid)
            with lock:
                latencies.append(time.perf_counter() - started)
            due += interval
            time.sleep(max(0.0, due - time.perf_counter()))
        connections[alias].close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def report(label: str, latencies: list[float]) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<28} {len(ms) / SECONDS:6.1f} tx/s  commit p50 {statistics.median(ms):6.2f} ms  "
        f"p99 {percentile(ms, 0.99):6.2f} ms  max {max(ms):7.2f} ms",
        flush=True,
    )


def run() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import User
    from config.libsql.testing import SqldServers
    from config.shadow.core import Shadow, lag, verify
    from trading.models import Balance

    print(
        f"{WRITERS} writers, {RATE:.0f} tx/s paced, {SECONDS:.0f}s per case; load average {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory(prefix="brute-bench-shadow-") as name:
        tmp = Path(name)
        alias, path = "bench_shadow", tmp / "brute.db"
        connections.settings[alias] = database_settings(
            "config.sqlite", path, options={"timeout": 30, "transaction_mode": "IMMEDIATE"}
        )
        call_command("migrate", database=alias, interactive=False, verbosity=0)
        user = User.objects.db_manager(alias).create_user("bench@example.com", "a long password 123")
        Balance.objects.using(alias).create(user=user, mode="paper", asset="SOL", free=Decimal(0))
        load(alias, user.pk, 2.0, "warm")
        report("shadow off (baseline)", load(alias, user.pk, SECONDS, "off"))

        with SqldServers(tmp / "sqld") as servers:
            url = servers.start("bench")
            shadow = Shadow(tmp / "shadow.json", token=servers.token)
            started = time.perf_counter()
            shadow.start(f"file:{path}", url)
            took = time.perf_counter() - started
            print(f"(shadow start: snapshot of the primary loaded into sqld in {took:.2f}s)")
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            shipper = subprocess.Popen(
                [sys.executable, "-c", SHIPPER, str(tmp / "shadow.json"), servers.token], cwd=ROOT, env=env
            )
            lags: list[float] = []
            done = threading.Event()

            def sample() -> None:
                primary, other = shadow.databases()
                while not done.is_set():
                    lags.append(lag(primary, other)[1])
                    time.sleep(0.1)
                primary.close()
                other.close()

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                report("shadow on (sqld shadow)", load(alias, user.pk, SECONDS, "on"))
            finally:
                done.set()
                sampler.join()
            print(
                f"{'lag behind the primary':<28} p50 {percentile(lags, 0.5) * 1000:6.1f} ms  "
                f"p99 {percentile(lags, 0.99) * 1000:6.1f} ms  max {max(lags) * 1000:7.1f} ms  "
                f"({len(lags)} samples)"
            )
            time.sleep(1.0)
            primary, other = shadow.databases()
            result = verify(primary, other)
            print(
                f"verification after the load: ok={result.ok}, {result.rows} rows in {result.tables} tables"
            )
            primary.close()
            other.close()
            shipper.terminate()
            shipper.wait(30)
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
