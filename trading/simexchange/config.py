"""Knobs of the simulated exchange; the defaults are MEXC's documented values."""

from __future__ import annotations

from dataclasses import dataclass

from trading.simexchange.accounts import DEMO_API_KEY, DEMO_API_SECRET

ALWAYS_ACTIVE = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "MXUSDT", "BTCUSDC")


@dataclass
class SimConfig:
    seed: int = 1
    api_key: str = DEMO_API_KEY
    api_secret: str = DEMO_API_SECRET
    # Symbols that trade from start-up; any other symbol starts when someone queries or subscribes to it.
    always_active: tuple[str, ...] = ALWAYS_ACTIVE
    liquidity_levels: int = 30
    # Simulated market orders per second on each active symbol (each prints one or more trades).
    taker_orders_per_second: float = 2.0
    tick_seconds: float = 0.25
    push_seconds: float = 0.1
    kline_push_seconds: float = 1.0
    mini_ticker_push_seconds: float = 3.0
    # Rate limits: weight per endpoint per window, and how many 429s within a minute earn a 418 ban.
    rate_limit_weight: int = 500
    rate_limit_window: float = 10.0
    rate_limit_strikes: int = 10
    rate_limit_ban_seconds: float = 120.0
    # WebSocket limits.
    ws_max_subscriptions: int = 30
    ws_idle_seconds: float = 30.0
    ws_silent_seconds: float = 60.0
    ws_max_messages_per_second: int = 100
    # Adds PERCENT_PRICE_BY_SIDE (live since 2025-09) to symbols the 2025-04 capture lists without it.
    price_band_filter: bool = True
