"""Armed before the open, fired from memory: the volley against the bundled exchange's listing scenario.

Each test arms through the service (`listing_arm`), then runs the runner's own `arm` (warm
connections, pre-built requests, the volley) and its stream loop in an event loop of its own, and
checks what the exchange itself recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from tests.sniper.conftest import buys, net_bought, rule_on
from trading import services as trading
from trading.exchange.hub import account_label
from trading.exchanges import hub_close
from trading.models import Fill, Order
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.models import Listing, Position, PositionExit, RuleFiring
from trading.sniper.runner import Sniper, shot_result
from trading.sniper.services.arming import ArmPlan, listing_arm
from trading.sniper.services.positions import positions_monitor
from trading.sniper.volley import Volley

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim_config() -> SimConfig:
    # Depth pushes every 50 ms so the market stream can show a listing opening.
    return SimConfig(
        tick_seconds=0.05,
        push_seconds=0.05,
        kline_push_seconds=3600,
        mini_ticker_push_seconds=3600,
        taker_orders_per_second=0.0,
    )


@pytest.fixture
def scripted(mexc: SimExchangeThread) -> Callable[..., Listing]:
    """A listing the exchange opens at `opens_in_ms` from now, announced to Brute as opening at
    `announced_in_ms` (None: time unknown, armed to fire on a signal)."""
    counter = iter(range(1, 1000))

    def make(*, opens_in_ms: int, announced_in_ms: int | None = -1, price: str = "0.5") -> Listing:
        symbol = f"ARM{next(counter)}USDT"
        opens_at = mexc.now() + opens_in_ms
        mexc.add_listing(symbol, opens_at=opens_at, price=Decimal(price))
        announced = opens_in_ms if announced_in_ms == -1 else announced_in_ms
        from trading.sniper.services.listings import symbol_refresh

        symbol_refresh(symbol=symbol)
        return Listing.objects.create(
            symbol=symbol,
            base_asset=symbol.removesuffix("USDT"),
            state=Listing.State.LISTED,
            expected_open=None if announced is None else timezone.now() + timedelta(milliseconds=announced),
        )

    return make


class Flight:
    """The runner's arming and stream loop on the process's exchange hub loop, for one test (the hub
    is this test's: `hub()` follows MEXC_BASE_URL, which the `mexc` fixture points at its exchange)."""

    def __init__(self, mexc: SimExchangeThread) -> None:
        self.sniper = Sniper()
        self.hub = self.sniper.bind()
        assert self.hub.base_url == mexc.base_url
        self.loop = self.hub.loop
        self.call(self._start())

    async def _start(self) -> None:
        self.sniper._spawn(self.sniper.stream_loop())

    def call(self, coro: object, timeout: float = 60) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def arm(self, plan: ArmPlan | None) -> Volley:
        assert plan is not None
        return self.call(self.sniper.arm(plan))  # type: ignore[return-value]

    def land(self, listing: Listing, timeout: float = 30) -> None:
        """Until the listing's volley has finished and been recorded."""

        async def wait() -> None:
            async with asyncio.timeout(timeout):
                while listing.pk in self.sniper.volleys:  # noqa: ASYNC110 (the runner keeps no event for it)
                    await asyncio.sleep(0.02)

        self.call(wait())

    def stop(self) -> None:
        async def stop() -> None:
            self.sniper.stopping.set()
            for task in list(self.sniper._tasks):
                task.cancel()
            if self.sniper.stream is not None:
                await self.sniper.stream.aclose()

        self.call(stop())
        hub_close()


@pytest.fixture
def flight(mexc: SimExchangeThread) -> Iterator[Flight]:
    started = Flight(mexc)
    yield started
    started.stop()


def exchange_orders(mexc: SimExchangeThread, listing: Listing) -> list[dict[str, object]]:
    return mexc.accepted_orders(listing.symbol)


def test_a_pre_armed_order_is_sent_at_the_open_and_accepted_once(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500)
    rule = rule_on(live_trader, amount=Decimal("25"))

    plan = listing_arm(listing=listing, owner="p1")
    [firing] = RuleFiring.objects.filter(rule=rule)
    armed_order = Order.objects.get(client_order_id=firing.client_order_id(1))
    assert firing.status == RuleFiring.Status.ARMED
    assert armed_order.status == Order.Status.PENDING  # written before the open
    volley = flight.arm(plan)
    flight.land(listing)

    [accepted] = exchange_orders(mexc, listing)
    assert accepted["clientOrderId"] == armed_order.client_order_id
    # The exchange's own clock: accepted at or after its open, never before.
    assert float(accepted["acceptedAt"]) >= float(accepted["openTime"])  # type: ignore[arg-type]
    firing.refresh_from_db()
    assert firing.status == RuleFiring.Status.DONE
    # Sent on time, by whichever signal came first: the clock at the open, or the exchange's own push
    # showing the symbol trading (the bundled exchange opens a listing on time, so on a busy machine
    # its push can beat the runner's timer by a few ms; both are the designed triggers).
    assert volley.shots[0].signal in {"clock", "accepted", "retry", "probe", "stream"}
    assert firing.signal == volley.shots[0].signal
    assert firing.armed_at is not None
    assert firing.sent_at is not None
    assert firing.accepted_at is not None
    assert firing.armed_at < firing.sent_at <= firing.accepted_at
    [order] = buys(live_trader)
    assert order.pk == armed_order.pk
    assert order.status == Order.Status.FILLED
    assert order.cummulative_quote_qty <= rule.amount
    assert firing.order_id == order.pk
    assert firing.filled_at is not None
    listing.refresh_from_db()
    assert listing.state == Listing.State.TRADING


def test_10007_is_retried_within_the_window_at_a_bounded_rate_until_the_late_open(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    # Announced for +2.5 s; the exchange opens 600 ms late and refuses every order before (10007).
    listing = scripted(opens_in_ms=3100, announced_in_ms=2500)
    rule_on(live_trader, amount=Decimal("20"))
    rule_on(live_trader, amount=Decimal("20"))

    volley = flight.arm(listing_arm(listing=listing, owner="p1"))
    flight.land(listing)

    accepted = exchange_orders(mexc, listing)
    assert len(accepted) == 2
    assert {a["clientOrderId"] for a in accepted} == {
        f.client_order_id(1) for f in RuleFiring.objects.filter(listing=listing)
    }
    assert all(float(a["acceptedAt"]) >= float(a["openTime"]) for a in accepted)  # type: ignore[arg-type]
    refused = sum(shot.not_open for shot in volley.shots)
    sent = sum(shot.attempts for shot in volley.shots)
    assert refused >= 2  # the volley at the announced time, at least
    # One waiting order at a time every 10 ms from 500 ms before the announced time, plus the
    # volleys: far under the rate that a per-order retry loop would reach.
    window_ms = 500 + 600 + 200
    assert sent <= window_ms / 10 + 2 * len(volley.shots) + 4
    assert mexc.rate_limited == 0
    assert RuleFiring.objects.filter(listing=listing, status=RuleFiring.Status.DONE).count() == 2


def test_a_listing_with_no_known_time_fires_on_the_first_stream_frame(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=3_600_000, announced_in_ms=None)
    rule = rule_on(live_trader, amount=Decimal("15"))
    volley = flight.arm(listing_arm(listing=listing, owner="p1"))
    assert volley.open_ms is None

    mexc.open_listing(listing.symbol)
    flight.land(listing)

    [accepted] = exchange_orders(mexc, listing)
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.status == RuleFiring.Status.DONE
    assert volley.signal == "stream"
    assert firing.signal == "stream"
    assert accepted["clientOrderId"] == firing.client_order_id(1)


def client_sent(flight: Flight, mexc: SimExchangeThread, request: str) -> int:
    """How many `request`s ("DELETE /api/v3/order") the account's hub session (the MEXC client every
    service uses, the bookkeeping's included) has sent; the volley's own requests go by the wire."""
    return flight.hub.account(mexc.api_key, mexc.api_secret).sent[request]


def test_max_price_is_a_hard_cap_on_a_thin_book(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    mexc.set_balance("USDT", Decimal("100000"))
    trading.balances_sync(user_id=live_trader.pk)
    listing = scripted(opens_in_ms=2500, price="1.0")
    cap = Decimal("1.0007")
    rule = rule_on(live_trader, amount=Decimal("40000"), max_price=cap)

    volley = flight.arm(listing_arm(listing=listing, owner="p1"))
    flight.land(listing)

    # The rest was cancelled by the volley as soon as the order was accepted, before the exchange's
    # next quotes at or under the cap could fill it, not by the bookkeeping afterwards.
    [shot] = volley.shots
    assert (shot.rest, shot.rest_body["status"]) == ("cancelled", "PARTIALLY_CANCELED")
    assert client_sent(flight, mexc, "DELETE /api/v3/order") == 0
    [order] = buys(live_trader)
    # The symbol lists no IOC orders (as no MEXC spot symbol does): a LIMIT whose rest is cancelled.
    assert order.type == Order.Type.LIMIT
    assert order.price == cap
    fills = list(Fill.objects.filter(order=order))
    assert fills
    assert max(f.price for f in fills) <= cap
    # The book above the cap was not bought: the rest of the order was cancelled, not filled higher.
    assert order.status in (Order.Status.PARTIALLY_CANCELED, Order.Status.CANCELED)
    assert order.executed_qty < order.quantity  # type: ignore[operator]
    assert sum(f.quote_qty for f in fills) <= rule.amount
    assert [o["status"] for o in exchange_orders(mexc, listing)] == [order.status]
    note = live_trader.notifications.filter(kind="rule_fired").latest("pk").body
    assert "a LIMIT at your max price 1.0007, its unfilled rest cancelled once accepted" in note


def test_an_armed_ioc_shot_cancels_its_rest_the_moment_it_is_accepted(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    # The cap is under the listing's price: nothing fills at once, the whole order would rest.
    listing = scripted(opens_in_ms=2500, price="0.5")
    rule_on(live_trader, amount=Decimal("20"), max_price=Decimal("0.45"))
    plan = listing_arm(listing=listing, owner="p1")
    assert plan is not None
    [armed] = plan.orders
    # Its cancel is carried with it, to be pre-signed beside the order: by client order id.
    assert dict(armed.cancel_params) == {"symbol": listing.symbol, "origClientOrderId": armed.client_order_id}

    volley = flight.arm(plan)
    assert volley.shots[0].cancel is not None
    flight.land(listing)

    [shot] = volley.shots
    assert shot.state == "accepted"
    # The volley sent the cancel itself, after the acceptance and within the window, and the exchange
    # answered it with the order's final state.
    assert shot.answered is not None
    assert shot.rest_sent is not None
    assert shot.answered <= shot.rest_sent
    assert (shot.rest, shot.rest_body["status"]) == ("cancelled", "CANCELED")
    result = shot_result(shot)
    assert (result.rest_cancel, result.rest_status) == ("cancelled", "CANCELED")
    [accepted] = exchange_orders(mexc, listing)
    assert (accepted["status"], accepted["executedQty"]) == ("CANCELED", "0")
    # The bookkeeping read the order back and found it closed: it sent no cancel of its own.
    assert client_sent(flight, mexc, "DELETE /api/v3/order") == 0
    [order] = buys(live_trader)
    assert order.status == Order.Status.CANCELED
    assert RuleFiring.objects.get(listing=listing).status == RuleFiring.Status.DONE
    trading.balances_sync(user_id=live_trader.pk)
    assert live_trader.balances.get(mode="live", asset="USDT").locked == 0


def test_an_armed_ioc_shot_that_fills_at_once_is_not_cancelled_twice(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500, price="0.5")
    rule_on(live_trader, amount=Decimal("10"), max_price=Decimal("0.6"))

    volley = flight.arm(listing_arm(listing=listing, owner="p1"))
    flight.land(listing)

    [shot] = volley.shots
    # The order filled whole at once: the exchange had nothing open to cancel (-2011), and nothing
    # else cancels it either.
    assert (shot.rest, shot.rest_code) == ("not_open", -2011)
    assert shot_result(shot).rest_cancel == "not_open"
    assert client_sent(flight, mexc, "DELETE /api/v3/order") == 0
    [order] = buys(live_trader)
    assert order.status == Order.Status.FILLED
    assert [o["status"] for o in exchange_orders(mexc, listing)] == ["FILLED"]


def test_a_rest_cancel_the_exchange_did_not_take_is_made_by_the_bookkeeping_after_a_read_back(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500, price="0.5")
    rule_on(live_trader, amount=Decimal("20"), max_price=Decimal("0.45"))
    mexc.fail_next("/api/v3/order", method="DELETE", status=503)  # the volley's cancel, unprocessed

    volley = flight.arm(listing_arm(listing=listing, owner="p1"))
    flight.land(listing)

    [shot] = volley.shots
    assert (shot.state, shot.rest) == ("accepted", "unknown")
    # Read back open, so cancelled once by the bookkeeping.
    assert client_sent(flight, mexc, "DELETE /api/v3/order") == 1
    [order] = buys(live_trader)
    assert order.status == Order.Status.CANCELED
    assert [o["status"] for o in exchange_orders(mexc, listing)] == ["CANCELED"]


def test_several_rules_on_one_listing_each_protect_what_they_bought(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500, price="2")
    bare = rule_on(live_trader, amount=Decimal("30"))  # no exit plan
    ladder = rule_on(
        live_trader,
        amount=Decimal("30"),
        stop_loss_pct=Decimal("10"),
        take_profit=[{"gain_pct": "5", "sell_pct": "50"}],
    )
    wide = rule_on(live_trader, amount=Decimal("30"), stop_loss_pct=Decimal("25"), trailing_pct=Decimal("30"))

    flight.arm(listing_arm(listing=listing, owner="p1"))
    flight.land(listing)

    assert len(buys(live_trader)) == 3
    position = Position.objects.get(user=live_trader, symbol=listing.symbol, status=Position.Status.OPEN)
    plans = {plan.rule_id: plan for plan in position.plans.all()}
    assert set(plans) == {ladder.pk, wide.pk}  # the rule without exits has no plan
    for rule in (ladder, wide):
        order = Order.objects.get(client_order_id=RuleFiring.objects.get(rule=rule).client_order_id(1))
        # Each plan protects what its own rule bought (less a fee taken in the coin), not the position.
        assert plans[rule.pk].bought == net_bought(order) > 0
    assert plans[ladder.pk].stop_loss_pct == Decimal("10")
    assert plans[wide.pk].trailing_pct == Decimal("30")
    [level] = plans[ladder.pk].take_profit
    assert level["gain_pct"] == "5"
    bare_order = Order.objects.get(client_order_id=RuleFiring.objects.get(rule=bare).client_order_id(1))

    mexc.set_price(listing.symbol, Decimal("1.2"))  # a 40 % drop: both stops are crossed
    for _ in range(3):
        positions_monitor()

    exits = list(PositionExit.objects.filter(position=position).order_by("at", "pk"))
    assert sorted((e.kind, e.plan_id) for e in exits) == sorted(
        [("stop_loss", plans[ladder.pk].pk), ("stop_loss", plans[wide.pk].pk)]
    )
    for exit in exits:
        assert exit.plan is not None
        assert exit.order is not None
        assert exit.order.executed_qty <= exit.plan.bought
    position.refresh_from_db()
    # What the rule without a stop bought is still held.
    assert position.status == Position.Status.OPEN
    assert abs(position.qty - net_bought(bare_order)) < Decimal("0.02")


def test_a_restart_between_arming_and_the_open_fires_once(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=3000)
    rule = rule_on(live_trader, amount=Decimal("25"))
    listing_arm(listing=listing, owner="the-process-that-died")  # armed, then the process is gone

    plan = listing_arm(listing=listing, owner="the-new-process")
    assert plan is not None
    assert [o.client_order_id for o in plan.orders] == [RuleFiring.objects.get(rule=rule).client_order_id(1)]
    flight.arm(plan)
    flight.land(listing)

    assert len(exchange_orders(mexc, listing)) == 1
    assert RuleFiring.objects.filter(rule=rule).count() == 1
    [order] = buys(live_trader)
    assert order.status == Order.Status.FILLED
    assert RuleFiring.objects.get(rule=rule).status == RuleFiring.Status.DONE


def test_a_restart_after_the_send_records_the_order_and_never_sends_it_again(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500)
    rule = rule_on(live_trader, amount=Decimal("25"))
    volley = flight.arm(listing_arm(listing=listing, owner="the-process-that-died"))
    volley.on_settled = None  # it dies after the send, before any bookkeeping
    flight.land(listing)
    assert len(exchange_orders(mexc, listing)) == 1
    firing = RuleFiring.objects.get(rule=rule)
    assert firing.status == RuleFiring.Status.ARMED

    plan = listing_arm(listing=listing, owner="the-new-process")

    assert plan is not None
    assert plan.orders == ()
    assert len(exchange_orders(mexc, listing)) == 1
    firing.refresh_from_db()
    assert firing.status == RuleFiring.Status.DONE
    [order] = buys(live_trader)
    assert order.status == Order.Status.FILLED


# ---- the hub's shared pieces: its limiter and its clock govern the send -----------------------------


def test_during_the_hubs_418_ban_the_volley_sends_nothing_and_goes_when_it_ends(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500)
    rule_on(live_trader, amount=Decimal("20"))
    plan = listing_arm(listing=listing, owner="p1")
    # Another caller of the process met a 418: the ban lasts until 0.5 s after the open.
    ban_ends_ms = time.time() * 1000 + 3000  # read first: the ban ends no earlier than this
    flight.hub.limiter.ban(3.0)

    volley = flight.arm(plan)
    flight.land(listing)

    [shot] = volley.shots
    assert shot.not_open == 0  # no probe went out during the ban, nor the volley at the open
    assert shot.attempts == 1
    [accepted] = exchange_orders(mexc, listing)
    assert float(accepted["acceptedAt"]) >= ban_ends_ms - 5  # type: ignore[arg-type]
    assert RuleFiring.objects.get(listing=listing).status == RuleFiring.Status.DONE


def test_a_429_pauses_the_accounts_budget_in_the_hub_and_the_order_goes_after_retry_after(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500)
    rule_on(live_trader, amount=Decimal("20"))
    plan = listing_arm(listing=listing, owner="p1")
    assert plan is not None
    [armed] = plan.orders
    mexc.rate_limit_next(1, path="/api/v3/order", method="POST")

    volley = flight.arm(plan)
    flight.land(listing)

    [shot] = volley.shots
    assert shot.rate_limited == 1
    # The hub's limiter took the 429 for the account's scope: every caller of the process using this
    # key (not only the sniper) waits for Retry-After; the budget of POST /api/v3/order was cut.
    assert flight.hub.limiter.backoffs == 1
    assert shot.scope == f"uid:{account_label(armed.api_key)}"
    [accepted] = exchange_orders(mexc, listing)
    assert accepted["clientOrderId"] == armed.client_order_id
    assert RuleFiring.objects.get(listing=listing).status == RuleFiring.Status.DONE


def test_the_volley_fires_on_the_hubs_clock_offset(
    mexc: SimExchangeThread, live_trader: User, scripted: Callable[..., Listing], flight: Flight
) -> None:
    listing = scripted(opens_in_ms=2500)
    rule_on(live_trader, amount=Decimal("20"))
    plan = listing_arm(listing=listing, owner="p1")
    assert plan is not None
    assert plan.open_ms is not None
    deadline = time.monotonic() + 10
    while not flight.hub.clock.synced_at and time.monotonic() < deadline:  # the hub's first refresh
        time.sleep(0.02)
    # The hub measured the exchange 150 ms ahead of this machine (fresh, so nothing re-syncs it).
    flight.hub.clock.offset_ms, flight.hub.clock.synced_at = 150, time.time()

    volley = flight.arm(plan)
    flight.land(listing)

    assert volley.fired_at is not None
    # The volley left at the open on the exchange's clock as the hub knows it: 150 ms early here.
    assert abs(volley.fired_at * 1000 - (plan.open_ms - 150)) < 30
    assert volley.signal == "clock"
    # Too early for this exchange (its clock is ours): refused with 10007, retried until it opened.
    [shot] = volley.shots
    assert shot.not_open >= 2
    assert shot.resent_on_time  # refused on the clock: sent again at once, then in the retries' turn
    assert len(exchange_orders(mexc, listing)) == 1


def test_the_sniper_process_runs_on_the_hubs_loop(mexc: SimExchangeThread) -> None:
    """`manage.py sniper` starts `Sniper().run()` from its own loop: every loop of the sniper (and so
    every volley and the stream that signals it) runs on the exchange hub's loop."""
    sniper = Sniper()
    hub = sniper.bind()
    hub_loop = hub.loop
    seen: list[asyncio.AbstractEventLoop] = []

    async def arm_once() -> None:
        seen.append(asyncio.get_running_loop())
        sniper.stopping.set()

    sniper.arm_once = arm_once  # type: ignore[method-assign]
    try:
        asyncio.run(asyncio.wait_for(sniper.run(), 60))
    finally:
        hub_close()
    assert seen == [hub_loop]
    assert sniper.wire is not None
    assert sniper.wire.clock is hub.clock
    assert sniper.wire.limiter is hub.limiter
