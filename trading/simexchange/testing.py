"""Run the simulated MEXC in a background thread for tests and scripts.

    from trading.simexchange.testing import SimExchangeThread

    with SimExchangeThread() as mexc:            # free port on 127.0.0.1, own event loop
        client = MyMexcClient(mexc.base_url, mexc.api_key, mexc.api_secret)
        mexc.add_listing("NEWUSDT", opens_at=mexc.now() + 2_000, price=Decimal("0.05"))
        mexc.fail_next("/api/v3/order", status=503, after_processing=True)   # placed, but 503
        mexc.disconnect_websockets()

``base_url`` is the REST root (``http://127.0.0.1:PORT``; paths start with ``/api/v3/``) and ``ws_url``
the WebSocket (``ws://127.0.0.1:PORT/ws``). Every scenario method is thread-safe: it runs on the
server's loop and returns once applied. Pass a ``SimConfig`` to shorten limits (rate limits, idle
WebSocket timeout) so tests can provoke them quickly. The pytest fixture ``sim_exchange`` in
tests/simexchange/conftest.py wraps this class.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from trading.simexchange.config import SimConfig
from trading.simexchange.server import SimExchange

T = TypeVar("T")
P = ParamSpec("P")


def _applied(
    scenario: Callable[Concatenate[SimExchange, P], object],
) -> Callable[Concatenate[SimExchangeThread, P], None]:
    """``scenario``, a `SimExchange` method, as a `SimExchangeThread` one with the same arguments and
    docstring: it runs on the server's loop and returns once applied (whatever the server's method
    returns stays on that loop)."""

    @functools.wraps(scenario)
    def on_server_loop(self: SimExchangeThread, /, *args: P.args, **kwargs: P.kwargs) -> None:
        self.call(lambda: scenario(self.sim, *args, **kwargs))

    return on_server_loop


class SimExchangeThread:
    def __init__(self, config: SimConfig | None = None, *, host: str = "127.0.0.1") -> None:
        self.sim = SimExchange(config)
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simexchange", daemon=True)
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> SimExchangeThread:
        self._thread.start()
        self.port = self._run(self.sim.start(self.host, 0))
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._run(self.sim.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> SimExchangeThread:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- connection details ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def api_key(self) -> str:
        return self.sim.config.api_key

    @property
    def api_secret(self) -> str:
        return self.sim.config.api_secret

    def now(self) -> int:
        """The server's clock in ms (the same clock /api/v3/time reports)."""
        return self.sim.now()

    # --- scenarios (thread-safe) -------------------------------------------------------------------
    add_listing = _applied(SimExchange.add_listing)
    open_listing = _applied(SimExchange.open_listing)
    set_api_market_orders = _applied(SimExchange.set_api_market_orders)
    set_api_tradable = _applied(SimExchange.set_api_tradable)
    set_order_types = _applied(SimExchange.set_order_types)
    set_price = _applied(SimExchange.set_price)
    set_symbol_status = _applied(SimExchange.set_symbol_status)
    move_after_next_book = _applied(SimExchange.move_after_next_book)
    order_invisible_next = _applied(SimExchange.order_invisible_next)
    add_api_key = _applied(SimExchange.add_api_key)
    fail_next = _applied(SimExchange.fail_next)
    delay_next = _applied(SimExchange.delay_next)
    rate_limit_next = _applied(SimExchange.rate_limit_next)

    def silence_websockets(self) -> int:
        """Every open WebSocket goes silent: no frames, no PONGs, no close frame."""
        return self.call(self.sim.silence_websockets)

    def set_balance(self, asset: str, free: Decimal) -> None:
        self.call(lambda: self.sim.set_balance(asset, free))

    def add_account(self, api_key: str, api_secret: str, balances: dict[str, Decimal]) -> str:
        """A further account with its own key and UID; returns the UID."""
        return self.call(lambda: self.sim.add_account(api_key, api_secret, balances).uid)

    def accepted_orders(self, symbol: str) -> list[dict[str, Any]]:
        """Orders accepted on ``symbol``, each with the exchange's acceptance time ``acceptedAt`` (ms)."""
        return self.call(lambda: self.sim.accepted_orders(symbol))

    @property
    def rate_limited(self) -> int:
        """How many requests the exchange has refused with 429 or 418 so far."""
        return self.call(lambda: self.sim.limiter.refused)

    def disconnect_websockets(self, *, abrupt: bool = False) -> int:
        """Closes every WebSocket (``abrupt``: drops TCP with no close frame); returns how many."""
        return self._run(self.sim.disconnect_websockets(abrupt=abrupt))

    # --- plumbing ------------------------------------------------------------------------------------
    def call(self, action: Callable[[], T]) -> T:
        """Runs ``action`` on the server loop (where all state lives) and returns its result."""

        async def wrapped() -> T:
            return action()

        return self._run(wrapped())

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)
