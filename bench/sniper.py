"""Sniper speed measured at the exchange.

The bundled exchange runs in its own process (`manage.py simexchange`, its default market ticking) and
records its own clock when it accepts each order. For each scripted listing, every simulated user
(one account and API key each) has one "any new listing" rule; the listing is announced with its open
time, armed by the service, and fired by the runner's volley. Figures:

- open -> accepted: the exchange's acceptance time of each user's first accepted order minus the
  listing's open time, both on the exchange's clock; p50, p99, bought/total and the 429/418 count,
  for 1, 20 and 100 users, and for one user with 20 rules;
- the floor of the same run, right after each armed listing: as many raw pre-signed orders written
  at a listing's open on the same wire (no volley, no limiter, no probes), open -> accepted at the
  exchange; how late each volley left against the hub's clock, and signal -> last request handed;
- signal -> bytes handed to the socket (armed), beside the old path's signal (a REST book showing
  asks) -> Order row written (the old bench's figure; the request left about 35 ms after it) and
  its open -> accepted at the exchange, for 20 users, measured in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [
    ("1 user", 1, 1, 5),
    ("20 users", 20, 1, 3),
    ("100 users", 100, 1, 2),
    ("1 user x 20 rules", 1, 20, 2),
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(label: str, values: list[float], extra: str = "") -> str:
    if not values:
        return f"{label}: no samples {extra}"
    return (
        f"{label}: n={len(values)} p50={statistics.median(values):.2f} ms p99={_pct(values, 0.99):.2f} ms "
        f"max={max(values):.2f} ms {extra}".rstrip()
    )


def _load() -> str:
    """The machine's load average (1, 5, 15 min): the figures beside it are only as quiet as this."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sniper-"))
    os.environ["DATABASE_TEST_NAME"] = str(tmp / "test.db")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    port = _free_port()
    sim = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "simexchange", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/v3/ping", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("sniper bench: the exchange did not start")
            time.sleep(0.2)
        _bench(base)
    finally:
        sim.terminate()
        sim.wait(timeout=10)
        connection.creation.destroy_test_db(str(tmp / "test.db"), verbosity=0)


class Bench:
    def __init__(self, base: str) -> None:
        from trading.sniper.runner import Sniper

        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)
        self.sniper = Sniper()
        # The runner's own setup: the process's exchange hub, whose loop the volleys run on.
        self.hub = self.sniper.bind()
        self.loop = self.hub.loop
        self.users: list[Any] = []
        self.keys: list[tuple[str, str]] = []
        self.listings = 0
        self.floors = 0

    def call(self, coro: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def users_with_accounts(self, count: int) -> list[Any]:
        from django.utils import timezone

        from tests.factories import UserFactory
        from trading import crypto
        from trading.models import ApiCredential, Balance, TradingAccount

        while len(self.users) < count:
            key, secret = f"mx0Bench{len(self.users):010d}", secrets.token_hex(16)
            self.http.post(
                "/_sim/account", json={"apiKey": key, "apiSecret": secret, "balances": {"USDT": "100000"}}
            ).raise_for_status()
            user: Any = UserFactory()
            ApiCredential.objects.create(
                user=user,
                api_key_encrypted=crypto.encrypt(key),
                api_secret_encrypted=crypto.encrypt(secret),
                key_hint=crypto.mask(key),
                verified_at=timezone.now(),
                can_trade=True,
            )
            TradingAccount.objects.update_or_create(user=user, defaults={"mode": "live"})
            Balance.objects.update_or_create(
                user=user, mode="live", asset="USDT", defaults={"free": Decimal("100000")}
            )
            self.users.append(user)
            self.keys.append((key, secret))
        return self.users[:count]

    def listing(self, opens_in_ms: int) -> tuple[Any, int]:
        from datetime import UTC, datetime

        from trading.sniper.models import Listing
        from trading.sniper.services.listings import symbol_refresh

        self.listings += 1
        symbol = f"BNCH{self.listings}USDT"
        opens_at = int(time.time() * 1000) + opens_in_ms
        self.http.post("/_sim/listing", json={"symbol": symbol, "price": "0.5", "openTime": opens_at})
        symbol_refresh(symbol=symbol)
        # Announced with the exchange's own open time, as the calendar gives it.
        listing = Listing.objects.create(
            symbol=symbol,
            base_asset=symbol[:-4],
            state="listed",
            expected_open=datetime.fromtimestamp(opens_at / 1000, tz=UTC),
        )
        return listing, opens_at

    def accepted(self, symbol: str) -> tuple[list[dict[str, Any]], int]:
        body = self.http.get("/_sim/orders", params={"symbol": symbol}).json()
        return body["orders"], int(body["rateLimited"])

    def rules(self, users: list[Any], per_user: int) -> list[Any]:
        from trading.sniper.models import Rule

        Rule.objects.all().delete()
        return [
            Rule.objects.create(user=u, any_new_listing=True, amount=Decimal("20"))
            for u in users
            for _ in range(per_user)
        ]

    def armed_listing(self, users: list[Any], per_user: int) -> dict[str, Any]:
        from trading.sniper.services.arming import listing_arm

        self.rules(users, per_user)
        listing, opens_at = self.listing(opens_in_ms=4000 + 200 * len(users) * per_user)

        started = time.perf_counter()
        plan = listing_arm(listing=listing, owner=self.sniper.owner)
        armed_s = time.perf_counter() - started
        assert plan is not None
        volley = self.call(self.sniper.arm(plan))
        # Measured: the send. The bookkeeping (read-back, fills, positions) runs after it in a worker
        # thread and is left out here, so that it cannot slow the next listing's volley.
        volley.on_settled = None

        async def land() -> None:
            while listing.pk in self.sniper.volleys:  # noqa: ASYNC110 (the runner keeps no event for it)
                await asyncio.sleep(0.05)

        self.call(land())
        orders, limited = self.accepted(listing.symbol)
        first: dict[str, float] = {}
        for order in orders:
            first.setdefault(order["uid"], float(order["acceptedAt"]) - opens_at)
        if per_user > 1:
            latencies = [float(o["acceptedAt"]) - opens_at for o in orders]
            bought, total = len(orders), len(plan.orders)
        else:
            latencies, bought, total = list(first.values()), len(first), len(users)
        handed = volley.handed_ms
        # How late the volley went against the open on the hub's clock, and how many 10007s it met.
        wire = self.sniper.wire
        assert wire is not None
        late = (volley.fired_at - wire.local_at(opens_at)) * 1000 if volley.fired_at else None
        not_open = sum(s.not_open for s in volley.shots)
        return {
            "late": late,
            "not_open": not_open,
            "latencies": latencies,
            "bought": bought,
            "total": total,
            "limited": limited + sum(s.rate_limited for s in volley.shots),
            "handed": handed,
            "armed_s": armed_s,
            "signal": volley.signal,
        }

    def floor(self, count: int) -> list[float]:
        """The floor of the same run: `count` MARKET buys pre-signed for as many accounts and written
        at the open, on the exchange's clock, on `count` warm connections of the same wire to the same
        exchange, the symbol's market streams subscribed as the sniper does: the exchange's acceptance
        time of each minus the open. No volley, no limiter, no probes, no bookkeeping: what the
        exchange, the loopback and this machine take for a burst of this size."""
        from trading.exchange.mexc_rest import order_params
        from trading.exchange.mexc_ws import MexcStream, Topics
        from trading.exchange.types import OrderRequest, OrderType, Side

        wire = self.sniper.wire
        assert wire is not None
        listing, opens_at = self.listing(opens_in_ms=1500)
        self.floors += 1
        requests = [
            wire.signed(
                method="POST",
                path="/api/v3/order",
                params=order_params(
                    OrderRequest(
                        symbol=listing.symbol,
                        side=Side.BUY,
                        type=OrderType.MARKET,
                        client_order_id=f"floor{self.floors}u{i}",
                        quote_quantity=Decimal("20"),
                    )
                ),
                api_key=key,
                api_secret=secret,
            )
            for i, (key, secret) in enumerate(self.keys[:count])
        ]

        async def burst() -> None:
            conns = await wire.connect_many(count)
            if self.sniper.stream is None:
                self.sniper.stream = MexcStream(self.base.replace("http://", "ws://") + "/ws")
            await self.sniper.stream.subscribe([Topics.depth(listing.symbol), Topics.deals(listing.symbol)])
            open_at = wire.local_at(opens_at)
            await asyncio.sleep(max(0.0, open_at - time.time() - 0.02))
            while time.time() < open_at:
                pass
            pairs = list(zip(conns, requests, strict=True))
            answers = await asyncio.gather(*(c.send(r.at(int(wire.now_ms()))) for c, r in pairs))
            # Written a hair before the exchange's open (the clock is good to a round trip): once
            # more at once, as the volley does.
            early = [pair for pair, answer in zip(pairs, answers, strict=True) if answer.code == 10007]
            await asyncio.gather(*(c.send(r.at(int(wire.now_ms()))) for c, r in early))
            for conn in conns:
                conn.close()
            await self.sniper.stream.unsubscribe([Topics.depth(listing.symbol), Topics.deals(listing.symbol)])

        self.call(burst())
        orders, _ = self.accepted(listing.symbol)
        return [float(o["acceptedAt"]) - opens_at for o in orders]

    def old_path(self, users: list[Any]) -> dict[str, Any]:
        """The pre-arming path on the same exchange: poll the book, then claim, build and send."""
        from trading.models import Order
        from trading.sniper.runner import in_thread, listing_opened
        from trading.sniper.services.rules import firing_execute

        self.rules(users, 1)
        listing, opens_at = self.listing(opens_in_ms=3000)
        with httpx.Client(base_url=self.base) as http:
            while True:
                book = http.get("/api/v3/depth", params={"symbol": listing.symbol, "limit": 5}).json()
                if book.get("asks"):
                    break
                time.sleep(0.05)  # the old probe polled every 50-75 ms
        from django.utils import timezone

        detected = timezone.now()
        ids = listing_opened(listing.pk, detected)
        # exchangeInfo can still say "not yet" for a tick after the book shows asks: the old probe
        # asked again on its next tick (75 ms), as here.
        for _ in range(40):
            if ids:
                break
            time.sleep(0.075)
            ids = listing_opened(listing.pk, detected)

        async def fire() -> list[Any]:
            # As the old runner did, each firing in its own thread; errors counted, not raised.
            calls = (in_thread(firing_execute)(firing_id=pk) for pk in ids)
            return await asyncio.gather(*calls, return_exceptions=True)

        errors = [r for r in self.call(fire()) if isinstance(r, BaseException)]
        rows = Order.objects.filter(symbol=listing.symbol, client_order_id__endswith="a1")
        to_row = [(o.created - detected).total_seconds() * 1000 for o in rows]
        orders, _ = self.accepted(listing.symbol)
        first: dict[str, float] = {}
        for order in orders:
            first.setdefault(order["uid"], float(order["acceptedAt"]) - opens_at)
        return {
            "to_row": to_row,
            "latencies": list(first.values()),
            "bought": len(first),
            "total": len(users),
            "errors": sorted({type(e).__name__ + ": " + str(e)[:60] for e in errors}),
        }

    def close(self) -> None:
        async def stop() -> None:
            for task in list(self.sniper._tasks):
                task.cancel()
            if self.sniper.stream is not None:
                await self.sniper.stream.aclose()

        self.call(stop())
        self.hub.close()
        self.http.close()


def _bench(base: str) -> None:
    from django.test.utils import override_settings

    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ws = base.replace("http://", "ws://") + "/ws"
    with override_settings(
        MEXC_BASE_URL=base, MEXC_WS_URL=ws, MEXC_SIMULATED=False, CACHES=locmem,
        MEXC_CALENDAR_URL="http://127.0.0.1:9/",
    ):  # fmt: skip
        bench = Bench(base)
        try:
            bench.users_with_accounts(100)
            print(f"starting: {_load()} (2 cores shared with whatever else runs)", flush=True)
            handed_20: list[float] = []
            for label, users, per_user, listings in SCENARIOS:
                latencies: list[float] = []
                floor: list[float] = []
                handed: list[float] = []
                late: list[float] = []
                bought = total = limited = not_open = 0
                armed: list[float] = []
                for _ in range(listings):
                    result = bench.armed_listing(bench.users[:users], per_user)
                    latencies += result["latencies"]
                    bought, total = bought + result["bought"], total + result["total"]
                    limited += result["limited"]
                    not_open += result["not_open"]
                    armed.append(result["armed_s"] * 1000)
                    handed += result["handed"]
                    if result["late"] is not None:
                        late.append(result["late"])
                    if users == 20:
                        handed_20 += result["handed"]
                    # The floor right after each listing, so both see the same load on this machine.
                    if per_user == 1:
                        floor += bench.floor(users)
                print(
                    _line(
                        f"armed, {label}: open -> accepted at the exchange",
                        latencies,
                        f"bought {bought}/{total}, 429/418: {limited}, "
                        f"arming took {statistics.median(armed):.0f} ms (median); {_load()}",
                    ),
                    flush=True,
                )
                last = f"{max(handed):.2f} ms" if handed else "none"
                print(
                    f"  volleys left {', '.join(f'{x:.2f}' for x in late)} ms after the open (hub clock); "
                    f"signal -> last request handed to its socket: {last} (worst); 10007 answers (sent "
                    f"before the exchange's open, probes included): {not_open}",
                    flush=True,
                )
                if floor:
                    print(
                        _line(
                            f"  floor, {users} raw pre-signed orders written at the open: open -> accepted",
                            floor,
                        ),
                        flush=True,
                    )
            print(_line("armed, 20 users: signal -> bytes handed to the socket", handed_20), flush=True)
            old = bench.old_path(bench.users[:20])
            print(_line("old path, 20 users: signal (book with asks) -> Order row written", old["to_row"]))
            print(
                _line(
                    "old path, 20 users: open -> accepted at the exchange (incl. the 50 ms book poll)",
                    old["latencies"],
                    f"bought {old['bought']}/{old['total']}, errors: {old['errors'] or 'none'}",
                ),
                flush=True,
            )
        finally:
            bench.close()
