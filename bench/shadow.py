"""Shadow mode's cost to the primary, and how far the shadow trails, under a paced write load.

The load is the app's own write transaction shape through the ORM on the embedded file
(config.sqlite, IMMEDIATE): an order, its fill, the balance moved, a notification, at RATE
transactions per second from WRITERS threads. Two embedded files, set up alike: one with shadow
mode off (the baseline), one shadowed by `shadow start` to a real sqld on loopback with the shipper
in its own process (as `manage.py shadow run` runs it, default pacing). The cases run in
alternating rounds (off, on, on, off, ...; ROUNDS per case, BENCH_SECONDS in all per case,
default 30), so both see the same share of whatever else the machine runs; during an off round
the shipper and sqld are stopped (SIGSTOP), as they do not exist with shadow mode off, and each on
round ends with the shadow drained.

Printed: commit latency p50/p99 (the whole atomic block, as a request sees it), the CPU seconds per
second of load taken by the writers' process, the shipper and sqld, the p99 ratio on/off, and the
lag (age of the oldest write not yet on the shadow, sampled every 100 ms in on rounds) p50/p99/max.
Targets (issue 16): p99 on <= 2x off; lag p99 <= 1 s.

    .venv/bin/python -m bench shadow            # BENCH_SECONDS=300 for the issue's several minutes
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bench._databases import database_settings

SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))  # per case, all rounds together
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "6"))  # per case
WRITERS = 4
RATE = 40.0  # transactions per second, all writers together
ROOT = Path(__file__).resolve().parents[1]
SHIPPER = """
import sys, signal, threading
from pathlib import Path
from config.shadow.operations import Shadow
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
Shadow(Path(sys.argv[1]), token=sys.argv[2]).ship(until=stop.is_set)
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def report(label: str, latencies: list[float], seconds: float, cpu: dict[str, float]) -> None:
    ms = [v * 1000 for v in latencies]
    used = ", ".join(f"{name} {value / seconds:.3f}" for name, value in cpu.items())
    print(
        f"{label:<26} {len(ms) / seconds:5.1f} tx/s  commit p50 {statistics.median(ms):6.2f} ms  "
        f"p99 {percentile(ms, 0.99):6.2f} ms  max {max(ms):7.2f} ms  CPU s/s: {used}",
        flush=True,
    )


def prepare(alias: str, path: Path) -> int:
    """A migrated embedded file with a user and the balance the load moves; returns the user's id."""
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import User
    from trading.models import Balance

    connections.settings[alias] = database_settings(
        "config.sqlite", path, options={"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
    call_command("migrate", database=alias, interactive=False, verbosity=0)
    user = User.objects.db_manager(alias).create_user("bench@example.com", "a long password 123")
    Balance.objects.using(alias).create(user=user, mode="paper", asset="SOL", free=Decimal(0))
    load(alias, user.pk, 1.0, "warm")
    return int(user.pk)


def alternate(
    aliases: dict[str, str],
    users: dict[str, int],
    helpers: dict[str, int],
    lag: Callable[[], tuple[int, float]],
) -> tuple[dict[str, list[float]], dict[str, dict[str, float]], list[float]]:
    """The load in alternating rounds: (commit latencies per case, CPU seconds per case and
    process, lag samples). `helpers`: the shipper's and sqld's pids, stopped in off rounds."""
    latencies: dict[str, list[float]] = {"off": [], "on": []}
    cpu = {"off": {"writers": 0.0}, "on": {"writers": 0.0, "shipper": 0.0, "sqld": 0.0}}
    pids = {"writers": os.getpid(), **helpers}
    lags: list[float] = []
    each = SECONDS / ROUNDS
    for n in range(ROUNDS):
        for case in ("off", "on") if n % 2 == 0 else ("on", "off"):
            for pid in helpers.values():
                os.kill(pid, signal.SIGCONT if case == "on" else signal.SIGSTOP)
            done = threading.Event()

            def sample(done: threading.Event = done) -> None:
                while not done.wait(0.1):
                    lags.append(lag()[1])

            sampler = threading.Thread(target=sample)
            if case == "on":
                sampler.start()
            before = {key: cpu_seconds(pids[key]) for key in cpu[case]}
            latencies[case] += load(aliases[case], users[case], each, f"{case}{n}-")
            for key in cpu[case]:
                cpu[case][key] += cpu_seconds(pids[key]) - before[key]
            done.set()
            if case == "on":
                sampler.join()
                while lag()[0]:  # drained before the shipper is stopped
                    time.sleep(0.05)
    for pid in helpers.values():
        os.kill(pid, signal.SIGCONT)
    return latencies, cpu, lags


def run() -> None:
    import django

    django.setup()
    from django.db import connections

    from config.libsql.testing import SqldServers
    from config.shadow.core import lag
    from config.shadow.operations import Shadow
    from config.shadow.verify import verify

    each = SECONDS / ROUNDS
    print(
        f"{WRITERS} writers, {RATE:.0f} tx/s paced, {SECONDS:.0f}s per case in {ROUNDS} alternating rounds "
        f"of {each:.1f}s; load average {os.getloadavg()}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="brute-bench-shadow-") as name,
        SqldServers(Path(name) / "sqld") as servers,
    ):
        tmp = Path(name)
        aliases = {"off": "bench_shadow_off", "on": "bench_shadow_on"}
        users = {case: prepare(alias, tmp / f"{case}.db") for case, alias in aliases.items()}
        url = servers.start("bench")
        shadow = Shadow(tmp / "shadow.json", token=servers.token)
        started = time.perf_counter()
        shadow.start(f"file:{tmp / 'on.db'}", url)
        took = time.perf_counter() - started
        print(f"(shadow start: snapshot of the primary loaded into sqld in {took:.2f}s)")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        shipper = subprocess.Popen(
            [sys.executable, "-c", SHIPPER, str(tmp / "shadow.json"), servers.token], cwd=ROOT, env=env
        )
        helpers = {"shipper": shipper.pid, "sqld": servers.processes[-1].pid}
        primary, other = shadow.databases()
        try:
            latencies, cpu, lags = alternate(aliases, users, helpers, lambda: lag(primary, other))
            report("shadow off (baseline)", latencies["off"], SECONDS, cpu["off"])
            report("shadow on (sqld shadow)", latencies["on"], SECONDS, cpu["on"])
            ratio = percentile(latencies["on"], 0.99) / percentile(latencies["off"], 0.99)
            print(f"{'commit p99 on / off':<26} {ratio:5.2f}x (target <= 2x)")
            print(
                f"{'lag behind the primary':<26} p50 {percentile(lags, 0.5) * 1000:6.1f} ms  "
                f"p99 {percentile(lags, 0.99) * 1000:6.1f} ms  max {max(lags) * 1000:7.1f} ms  "
                f"({len(lags)} samples; target p99 <= 1000 ms)"
            )
            result = verify(primary, other)
            print(
                f"verification after the load: ok={result.ok}, {result.rows} rows in {result.tables} tables"
            )
        finally:
            for pid in helpers.values():
                os.kill(pid, signal.SIGCONT)
            primary.close()
            other.close()
            shipper.terminate()
            shipper.wait(30)
            for alias in aliases.values():
                connections[alias].close()
                del connections[alias]
                del connections.settings[alias]
