from __future__ import annotations

from collections.abc import Iterator

import pytest

from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread


@pytest.fixture
def sim_config() -> SimConfig:
    """Override in a test module to shorten limits; pushes are fast so tests wait little."""
    return SimConfig(
        tick_seconds=0.05, push_seconds=0.05, kline_push_seconds=0.1, mini_ticker_push_seconds=0.1
    )


@pytest.fixture
def sim_exchange(sim_config: SimConfig) -> Iterator[SimExchangeThread]:
    """A fresh simulated MEXC on a free 127.0.0.1 port, stopped after the test."""
    with SimExchangeThread(sim_config) as exchange:
        yield exchange
