"""The bundled exchange serves the site's new-coin calendar, so the offline demo shows open times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from trading.simexchange.calendar import PATH
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.calendar import calendar_fetch


def test_a_scripted_listing_is_on_the_calendar_with_its_open_time(sim_exchange: SimExchangeThread) -> None:
    opens_at = sim_exchange.now() + 3_600_000
    sim_exchange.add_listing("CALNEWUSDT", opens_at=opens_at, price=Decimal("0.25"))

    coins = calendar_fetch(url=f"{sim_exchange.base_url}{PATH}", timeout=5)

    assert coins is not None
    [coin] = [c for c in coins if c.ticker == "CALNEW"]
    assert coin.symbol() == "CALNEWUSDT"
    assert coin.opens_at == datetime.fromtimestamp(opens_at / 1000, tz=UTC)


def test_a_listing_opened_more_than_a_day_ago_leaves_the_calendar(sim_exchange: SimExchangeThread) -> None:
    sim_exchange.add_listing("CALOLDUSDT", opens_at=sim_exchange.now() - 90_000_000, price=Decimal("1.5"))

    coins = calendar_fetch(url=f"{sim_exchange.base_url}{PATH}", timeout=5)

    assert coins is not None
    assert "CALOLD" not in {c.ticker for c in coins}
