"""The exchange is the project's own MEXC-compatible server, in-process on a free loopback port; the
client talks to it over real HTTP and WebSocket."""

from __future__ import annotations

import pytest

from trading.exchange.mexc import MexcExchange
from trading.exchange.mexc_ws import StreamConfig
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig()


@pytest.fixture
def sim(sim_config):
    with SimExchangeThread(sim_config) as server:
        yield server


def make_client(sim, **kwargs) -> MexcExchange:
    kwargs.setdefault("api_key", sim.api_key)
    kwargs.setdefault("api_secret", sim.api_secret)
    kwargs.setdefault("retry_delay_s", 0.05)
    kwargs.setdefault("stream_config", StreamConfig(backoff_initial_s=0.05, backoff_max_s=0.5))
    return MexcExchange(base_url=sim.base_url, ws_url=sim.ws_url, **kwargs)


@pytest.fixture
async def client(sim):
    exchange = make_client(sim)
    yield exchange
    await exchange.aclose()
