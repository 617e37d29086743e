"""trading/sniper/prices.py priced(): the alert and position watches price their rows through it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from trading.sniper.prices import MarketView, Quote, priced


@dataclass
class Row:
    symbol: str


class View(MarketView):
    def __init__(self) -> None:
        super().__init__(use_feed=False)
        self.loads: list[list[str]] = []

    def load(self, symbols: Iterable[str]) -> View:
        self.loads.append(sorted(symbols))
        self._quotes = {"SOLUSDT": Quote(Decimal(100), Decimal(99), Decimal(101))}
        return self


def test_rows_are_priced_in_one_load_and_unpriced_ones_are_skipped() -> None:
    view = View()
    sol, nope = Row("SOLUSDT"), Row("NOPEUSDT")

    found = list(priced([sol, nope, sol], view))

    assert view.loads == [["NOPEUSDT", "SOLUSDT", "SOLUSDT"]]
    assert [(row.symbol, quote.price) for row, quote in found] == [("SOLUSDT", Decimal(100))] * 2


def test_no_rows_read_no_prices() -> None:
    view = View()
    assert list(priced([], view)) == []
    assert view.loads == []
