"""Positions as the trading core sees them: kept by the sniper, which builds on the core.

The sniper folds every fill into a position (`trading/sniper/services/positions.py`). The core needs
four things of them: the user-data stream hands each new fill over at once, risk limits read the
day's realised profit and the open positions, and a paper account reset clears the paper positions
(with their exit plans) in its own transaction. The core does not import the sniper; the sniper
registers its functions here when Django starts (`SniperConfig.ready`), and a use without that
registration fails loudly rather than skipping positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from accounts.models import User
    from trading.models import Fill


@dataclass(frozen=True)
class PositionBook:
    # Fold one stored fill into its user's position, once (a repeat is a no-op).
    apply_fill: Callable[[Fill], object]
    # Realised profit (negative: a loss) of the user's fills since a moment.
    realised_since: Callable[[User, datetime], Decimal]
    # The cost of each open position of the user on an account mode, by symbol.
    open_costs: Callable[[User, str], dict[str, Decimal]]
    # Close the user's open positions on an account mode and drop their exit plans (stop-loss,
    # trailing stop, take-profit ladder), inside the caller's transaction: the coins they held are
    # gone. Fills not folded in yet are settled as applied, so none reopens a position afterwards.
    clear: Callable[[User, str], object]


_book: PositionBook | None = None


def position_book_register(book: PositionBook) -> None:
    # Set once, when the app that keeps positions starts.
    global _book
    _book = book


def position_book() -> PositionBook:
    if _book is None:
        raise ImproperlyConfigured("No position book: trading.sniper registers it when it starts")
    return _book
