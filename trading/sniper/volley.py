"""A volley: the armed orders of one listing, fired from memory at the open.

Timeline (ENGINE.md, "The sniper"): armed some seconds before; from `open - before_ms` one armed
order at a time probes the exchange (a real order: if the symbol opened early it is accepted); at the
open, on the exchange's clock, every armed order leaves at once; an order refused with 10007 (not open
yet) is retried, one at a time, every `retry_every_ms`, until `open + after_ms`; the first acceptance
of any order (or a market-stream frame, or a REST probe, showing the symbol trading) fires every order
still waiting. Each order has at most one request in flight, and all its attempts carry the same
client order id, so one order can be accepted at most once; a request whose answer is lost is never
re-sent here (its outcome is unknown until the exchange is asked, after the volley).

An armed order that emulates immediate-or-cancel with a plain LIMIT carries a pre-signed cancel
(DELETE by its client order id): it leaves on the order's connection the moment the order is
accepted, from the same account budget, so nothing of the order rests on the book while the
bookkeeping runs. Its outcome is part of the shot (`rest`); the window waits for its answer.

Nothing here touches the database, a thread or a clock sync: `on_settled` receives the finished
orders afterwards, and the runner does the bookkeeping in a worker thread. No Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trading.sniper.wire import Answer, Connection, SignedRequest, Wire, WireError

log = logging.getLogger(__name__)

IDLE, FLYING, ACCEPTED, REFUSED, UNKNOWN = "idle", "flying", "accepted", "refused", "unknown"
SETTLED = frozenset({ACCEPTED, REFUSED, UNKNOWN})
# 10007 "symbol not support api" (not open to API orders yet); 30000 "suspended transaction".
NOT_OPEN_CODES = frozenset({10007, 30000})
# 700003: the timestamp fell outside recvWindow; refused before any processing, so safe to resend.
STALE_TIMESTAMP = 700003
# A rest cancel's outcome (`Shot.rest`): none asked (""), waiting for budget or a connection, in
# flight; then cancelled (the exchange answered with the order's final state), not open (the exchange
# had no open order to cancel: it filled at once), refused, unknown (no answer) or unsent.
REST_WAITING, REST_FLYING = "waiting", "flying"
REST_CANCELLED, REST_NOT_OPEN, REST_REFUSED = "cancelled", "not_open", "refused"
REST_UNKNOWN, REST_UNSENT = "unknown", "unsent"
# -2011 "Unknown order sent" (cancel), -2013 "Order does not exist", 30026 "invalid order id".
UNKNOWN_ORDER_CODES = frozenset({-2011, -2013, 30026})


@dataclass
class VolleyConfig:
    before_ms: float = 500.0
    after_ms: float = 2000.0
    retry_every_ms: float = 10.0
    # Before the open, one armed order probes every `probe_every_ms` (20 a second, the per-endpoint
    # rate MEXC support gives), so an account's budget is still whole when its orders leave at the open.
    probe_every_ms: float = 50.0
    # The last stretch before the open is waited out on the CPU: the event loop's timers are ~1 ms
    # coarse, and a sleeping thread on a busy machine is woken tens of ms late.
    spin_ms: float = 20.0
    answer_timeout_s: float = 10.0
    # Connections are checked (and re-opened) and the clock re-synced this long before the window.
    warm_s: float = 3.0


@dataclass
class Shot:
    """One armed order: its firing, its pre-built request and its warm connection."""

    firing_id: int
    api_key: str
    request: SignedRequest
    # The hub limiter's scope of the key (`wire.order_scope`): the account's order budget.
    scope: str = ""
    conn: Connection | None = None
    state: str = IDLE
    attempts: int = 0
    not_open: int = 0
    rate_limited: int = 0
    first_sent: float | None = None
    # Local epoch seconds: when the deciding request was handed to the socket, and its answer came.
    sent: float | None = None
    answered: float | None = None
    status: int | None = None
    code: int | None = None
    message: str = ""
    body: Any = None
    signal: str = ""
    recorded: bool = False
    resent_on_time: bool = False
    # The pre-signed cancel of the order's rest (an emulated immediate-or-cancel), None when the
    # order's rest may stay; and what came of it.
    cancel: SignedRequest | None = None
    rest: str = ""
    rest_sent: float | None = None
    rest_answered: float | None = None
    rest_code: int | None = None
    rest_message: str = ""
    rest_body: Any = None

    @property
    def settled(self) -> bool:
        return self.state in SETTLED

    @property
    def rest_busy(self) -> bool:
        return self.rest in (REST_WAITING, REST_FLYING)


@dataclass
class Volley:
    symbol: str
    # The announced open on the exchange's clock (epoch ms), or None: fire on a signal only.
    open_ms: float | None
    shots: list[Shot]
    wire: Wire
    config: VolleyConfig = field(default_factory=VolleyConfig)
    on_settled: Callable[[Volley, list[Shot]], None] | None = None
    # Called once, right after the first signal's orders left (e.g. to start firings that could not
    # be pre-built).
    on_fired: Callable[[Volley], None] | None = None
    signal: str = ""
    fired_at: float | None = None
    _triggered: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Shots settled so far (a settled shot never changes again): answers wake the schedule only when
    # one needs sending again or the last one settled, not once per answer of a volley of 100.
    _settled_n: int = 0
    _gc_paused: bool = False
    _rotation: int = 0
    _fired_once: bool = False
    # Milliseconds from the first signal to each of its requests handed to the socket.
    handed_ms: list[float] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    # ---- firing ----------------------------------------------------------------------------------

    def fire(self, signal: str) -> int:
        """Send every order still waiting, now (within the weight budget). Returns how many left."""
        first = not self._triggered.is_set()
        if first:
            self.signal, self.fired_at = signal, time.time()
            self._triggered.set()
        sent = sum(self._send(shot, signal) for shot in self.shots if shot.state == IDLE)
        if first and self.fired_at is not None:
            self.handed_ms = [
                (s.sent - self.fired_at) * 1000
                for s in self.shots
                if s.sent is not None and s.sent >= self.fired_at
            ]
        if first and self.on_fired is not None and not self._fired_once:
            self._fired_once = True
            self.on_fired(self)
        return sent

    def _send(self, shot: Shot, signal: str) -> bool:
        conn = shot.conn
        if conn is None or not conn.alive:
            self._reconnect(shot)
            return False
        if not self.wire.take(shot.scope):
            return False
        future = conn.send(shot.request.at(int(self.wire.now_ms())))
        now = time.time()
        shot.state, shot.signal, shot.sent = FLYING, signal, now
        shot.attempts += 1
        shot.first_sent = shot.first_sent or now
        future.add_done_callback(lambda done: self._answered(shot, done))
        return True

    def _answered(self, shot: Shot, future: asyncio.Future[Answer]) -> None:
        if shot.state != FLYING:
            return
        answer, failure = _answer_of(future)
        if answer is None:
            shot.state, shot.message = UNKNOWN, failure
            self._settled_n += 1
            self._changed.set()
            return
        shot.answered, shot.status, shot.body = answer.received, answer.status, answer.json()
        shot.code, shot.message = answer.code, answer.message
        if answer.status == 200 and isinstance(shot.body, dict) and shot.body.get("orderId"):
            shot.state = ACCEPTED
            if shot.cancel is not None:
                self._cancel_rest(shot)
            # The symbol is open: everything still waiting goes now.
            if any(s.state == IDLE for s in self.shots):
                self.fire("accepted")
        elif answer.status in (429, 418):
            shot.rate_limited += 1
            self.wire.refused(shot.scope, answer.status, answer.retry_after)
            shot.state = IDLE
        elif answer.status >= 500:
            shot.state = UNKNOWN
        elif shot.code in NOT_OPEN_CODES:
            self._not_open_yet(shot)
        elif shot.code == STALE_TIMESTAMP:
            shot.state = IDLE
        else:
            shot.state = REFUSED
        if shot.state in SETTLED:
            self._settled_n += 1
        if shot.state == IDLE or self._settled_n >= len(self.shots):
            self._changed.set()

    # ---- the rest cancel of an accepted order --------------------------------------------------------

    def _cancel_rest(self, shot: Shot) -> None:
        """The accepted order's pre-signed cancel, now; when its connection or the budget is not
        there at once, again every `retry_every_ms` until it is (for `answer_timeout_s` at most)."""
        if self._send_cancel(shot):
            return
        if shot.rest != REST_WAITING:
            shot.rest = REST_WAITING
            self._spawn(self._cancel_later(shot), f"rest{id(shot)}")

    def _send_cancel(self, shot: Shot) -> bool:
        conn = shot.conn
        if shot.cancel is None or conn is None or not conn.alive:
            return False
        if not self.wire.take(shot.scope, cancel=True):
            return False
        future = conn.send(shot.cancel.at(int(self.wire.now_ms())))
        shot.rest, shot.rest_sent = REST_FLYING, time.time()
        future.add_done_callback(lambda done: self._rest_answered(shot, done))
        return True

    async def _cancel_later(self, shot: Shot) -> None:
        deadline = time.time() + self.config.answer_timeout_s
        while shot.rest == REST_WAITING and time.time() < deadline:
            await asyncio.sleep(self.config.retry_every_ms / 1000)
            if shot.conn is None or not shot.conn.alive:
                await self._connect(shot)
            self._send_cancel(shot)
        if shot.rest == REST_WAITING:
            shot.rest, shot.rest_message = REST_UNSENT, "no connection or budget for the cancel in time"
            self._changed.set()

    def _rest_answered(self, shot: Shot, future: asyncio.Future[Answer]) -> None:
        if shot.rest != REST_FLYING:
            return
        answer, failure = _answer_of(future)
        if answer is None:
            shot.rest, shot.rest_message = REST_UNKNOWN, failure
            self._changed.set()
            return
        body = answer.json()
        shot.rest_answered, shot.rest_code, shot.rest_message = answer.received, answer.code, answer.message
        if answer.status == 200 and isinstance(body, dict) and body.get("status"):
            shot.rest, shot.rest_body = REST_CANCELLED, body
        elif answer.status in (429, 418) or shot.rest_code == STALE_TIMESTAMP:
            # Never processed: again once the budget (or the clock) allows.
            if answer.status in (429, 418):
                self.wire.refused(shot.scope, answer.status, answer.retry_after)
            shot.rest = ""
            self._cancel_rest(shot)
        elif shot.rest_code in UNKNOWN_ORDER_CODES:
            shot.rest = REST_NOT_OPEN
        elif answer.status >= 500:
            shot.rest = REST_UNKNOWN
        else:
            shot.rest = REST_REFUSED
        self._changed.set()

    def _not_open_yet(self, shot: Shot) -> None:
        """A 10007 ("symbol not open"): the shot waits for its next turn, or goes again at once."""
        shot.not_open += 1
        shot.state = IDLE
        # Refused for a request sent before the signal: it missed the volley, so it joins it now
        # (once per signal per order, which keeps the rate bounded).
        if self.fired_at is not None and shot.sent is not None and shot.sent < self.fired_at:
            self._send(shot, self.signal)
        elif self.signal == "clock" and not shot.resent_on_time:
            # Sent on the clock and refused: the exchange's clock is a little behind the hub's
            # estimate (which is good to a round trip or so). Once per order, again at once,
            # instead of waiting for its turn in the retries.
            shot.resent_on_time = True
            self._send(shot, self.signal)

    def _reconnect(self, shot: Shot) -> None:
        if shot.conn is not None and not shot.conn.alive:
            shot.conn = None
        if shot.conn is None and not any(t.get_name() == f"conn{id(shot)}" for t in self._tasks):
            self._spawn(self._connect(shot), f"conn{id(shot)}")

    async def _connect(self, shot: Shot) -> None:
        try:
            shot.conn = await self.wire.connect()
        except OSError as exc:
            log.warning("sniper %s: connection failed: %s", self.symbol, exc)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the schedule ----------------------------------------------------------------------------

    @property
    def pending(self) -> list[Shot]:
        return [s for s in self.shots if not s.settled] if self._settled_n < len(self.shots) else []

    def trigger(self, signal: str) -> None:
        """A signal from outside (stream frame, REST probe) that the symbol trades."""
        if self.pending or not self._fired_once:
            self.fire(signal)

    async def run(self) -> None:
        try:
            if self.open_ms is not None:
                await self._armed_until_open()
            if not self.shots:
                await self._triggered.wait()
            while self.pending:
                await self._triggered.wait()
                await self._retry_window()
                self._gc_resume()
                self._settle()
                if self.pending:
                    # The window closed and the symbol did not open: wait for the next signal.
                    self._triggered.clear()
            # Every order may have settled before the window (a probe accepted): a rest cancel sent
            # on that acceptance still gets its answer before the shots are handed over.
            await self._answers()
        finally:
            self._gc_resume()
            for task in list(self._tasks):
                task.cancel()
            for shot in self.shots:  # stopped with a rest cancel unsettled: the bookkeeping reads back
                if shot.rest_busy:
                    shot.rest = REST_UNKNOWN if shot.rest == REST_FLYING else REST_UNSENT
                    shot.rest_message = shot.rest_message or "the volley stopped first"
            self._settle()

    def _gc_pause(self) -> None:
        """No garbage collection from the last stretch before the open to the end of the window: a
        full collection of a Django process takes tens of ms, which would land in the send."""
        if gc.isenabled():
            gc.disable()
            self._gc_paused = True

    def _gc_resume(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    async def _armed_until_open(self) -> None:
        assert self.open_ms is not None
        clock, cfg = self.wire, self.config
        if await self._wait_until(clock.local_at(self.open_ms - cfg.before_ms) - cfg.warm_s):
            return
        await self.warm()
        if await self._wait_until(clock.local_at(self.open_ms - cfg.before_ms)):
            return
        # Probing stops a few round trips before the open, so that no order is still waiting for the
        # answer to a probe when the volley goes.
        guard_ms = max(5.0, 3 * (clock.rtt_ms or 1.0))
        prober = asyncio.create_task(self._probe_until(clock.local_at(self.open_ms - guard_ms)))
        try:
            open_at = clock.local_at(self.open_ms)
            if await self._wait_until(open_at - cfg.spin_ms / 1000):
                return
            self._gc_pause()
            while time.time() < open_at and not self._triggered.is_set():
                pass
            if not self._triggered.is_set():
                self.fire("clock")
        finally:
            prober.cancel()

    async def warm(self) -> None:
        """Re-open connections the server closed and re-sync the clock, before the window."""
        for shot in self.shots:
            if shot.conn is None or not shot.conn.alive:
                self._reconnect(shot)
        if self.wire.clock_age_s() > 10:
            with contextlib.suppress(OSError, WireError, TimeoutError):
                await self.wire.sync_clock()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.config.warm_s / 2)

    async def _wait_until(self, local_epoch: float) -> bool:
        """Sleep until `local_epoch`; True when a signal came first."""
        left = local_epoch - time.time()
        if left > 0 and not self._triggered.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._triggered.wait(), left)
        return self._triggered.is_set()

    async def _retry_window(self) -> None:
        cfg = self.config
        start = self.fired_at or time.time()
        end = start + cfg.after_ms / 1000
        if self.open_ms is not None:
            end = max(end, self.wire.local_at(self.open_ms + cfg.after_ms))
        await self._probe_until(end)
        await self._answers()

    async def _answers(self) -> None:
        """Orders (and rest cancels) still in flight get their answer (or time out) first."""
        while any(s.state == FLYING or s.rest_busy for s in self.shots):
            if not await self._changed_within(0.05):
                self._expire()

    async def _probe_until(self, local_epoch: float) -> None:
        """One waiting order at a time, every `probe_every_ms` before the signal and `retry_every_ms`
        after it, until `local_epoch` or all settled. After the signal, an order that has not gone out
        since (its budget was spent, its connection was re-opened) goes as soon as it can."""
        next_send = time.time()
        while self._settled_n < len(self.shots) and (now := time.time()) < local_epoch:
            idle = [s for s in self.shots if s.state == IDLE]
            fired = self.fired_at
            if fired is not None and any(s.sent is None or s.sent < fired for s in idle):
                for shot in idle:
                    if shot.sent is None or shot.sent < fired:
                        self._send(shot, self.signal)
                idle = [s for s in self.shots if s.state == IDLE]
            # Answers wake this loop early; the cadence holds regardless, which bounds the rate.
            if idle and now >= next_send:
                cadence = self.config.retry_every_ms if fired is not None else self.config.probe_every_ms
                step = cadence / 1000
                self._rotation = (self._rotation + 1) % len(idle)
                self._send(idle[self._rotation], "probe" if not self._triggered.is_set() else "retry")
                next_send = now + step
            self._expire()
            await self._changed_within(max(0.0, min(next_send, local_epoch) - time.time()))

    async def _changed_within(self, seconds: float) -> bool:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)
            return True
        return False

    def _expire(self) -> None:
        """A request unanswered for `answer_timeout_s`: its outcome is unknown; its connection is
        dropped, since a late answer on it would be taken for the next request's."""
        limit = time.time() - self.config.answer_timeout_s
        for shot in self.shots:
            if shot.state == FLYING and shot.sent is not None and shot.sent < limit:
                shot.state, shot.message = UNKNOWN, "no answer in time"
                self._settled_n += 1
                if shot.conn is not None:
                    shot.conn.close()
            if shot.rest == REST_FLYING and shot.rest_sent is not None and shot.rest_sent < limit:
                shot.rest, shot.rest_message = REST_UNKNOWN, "no answer in time"
                if shot.conn is not None:
                    shot.conn.close()

    def _settle(self) -> None:
        done = [s for s in self.shots if s.settled and not s.recorded and not s.rest_busy]
        for shot in done:
            shot.recorded = True
        if done and self.on_settled is not None:
            self.on_settled(self, done)


def _answer_of(future: asyncio.Future[Answer]) -> tuple[Answer | None, str]:
    """The exchange's answer to a sent request, or None and why there is none (the connection failed,
    or the volley was cancelled, before it came)."""
    try:
        return future.result(), ""
    except (WireError, asyncio.CancelledError, OSError) as exc:
        return None, f"no answer: {exc}"
