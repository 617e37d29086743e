"""Reads of the trading core, always scoped to their owner."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import OuterRef, Q, QuerySet, Subquery

from config.errors import NotFound, get_owned_or_404
from trading.models import (
    ApiCredential,
    Balance,
    Candle,
    FavouriteSymbol,
    Fill,
    Mode,
    Order,
    RiskLimits,
    Symbol,
    TradingAccount,
)

if TYPE_CHECKING:
    from accounts.models import User


def trading_mode_for_user(*, user: User) -> str:
    account = TradingAccount.objects.filter(user=user).only("mode").first()
    return account.mode if account else Mode.PAPER


def risk_limits_get(*, user: User) -> RiskLimits:
    """The user's limits, or an unsaved empty set (no limits) for the form."""
    return RiskLimits.objects.filter(user=user).first() or RiskLimits(user=user)


def orders_for_user(
    *,
    user: User,
    status: str | list[str] | None = None,
    symbol: str | None = None,
    mode: str | None = None,
    side: str | None = None,
) -> QuerySet[Order]:
    orders = Order.objects.filter(user=user)
    if side:
        orders = orders.filter(side=side.upper())
    if isinstance(status, str):
        orders = orders.filter(status=status)
    elif status:
        orders = orders.filter(status__in=status)
    if symbol:
        orders = orders.filter(symbol=symbol.upper())
    if mode:
        orders = orders.filter(mode=mode)
    return orders


def open_orders_for_user(*, user: User, symbol: str | None = None) -> QuerySet[Order]:
    return orders_for_user(user=user, status=list(Order.OPEN_STATUSES), symbol=symbol)


def orders_with_quote_asset(*, orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders`, each with `quote_asset` (its symbol's, e.g. USDT; None for a symbol no longer listed),
    to name what an amount by quote is in."""
    quote = Symbol.objects.filter(symbol=OuterRef("symbol")).values("quote_asset")[:1]
    return orders.annotate(quote_asset=Subquery(quote))


def order_get_for_user(*, user: User, order_id: int) -> Order:
    """The user's own order, with its `quote_asset`; anyone else's looks exactly like a missing one (404)."""
    return get_owned_or_404(orders_with_quote_asset(orders=Order.objects.all()), user=user, pk=order_id)


def balances_for_user(*, user: User, mode: str | None = None) -> QuerySet[Balance]:
    """Balances of the user's current trading mode (or `mode`), non-zero ones only."""
    chosen = mode or trading_mode_for_user(user=user)
    return Balance.objects.filter(user=user, mode=chosen).exclude(free=0, locked=0)


def fills_for_user(*, user: User, symbol: str | None = None, order_id: int | None = None) -> QuerySet[Fill]:
    fills = Fill.objects.select_related("order").filter(order__user=user)
    if symbol:
        fills = fills.filter(order__symbol=symbol.upper())
    if order_id is not None:
        fills = fills.filter(order_id=order_id)
    return fills


def symbol_get(*, symbol: str) -> Symbol:
    """The listed symbol named `symbol` (any case). A name MEXC does not list raises NotFound with the
    code `unknown_symbol`, the one an order on it is refused with (404 on every /api/v1 endpoint; a
    page's Http404)."""
    name = symbol.strip().upper()
    found = Symbol.objects.filter(symbol=name).first()
    if found is None:
        raise NotFound(f"{name} is not a MEXC spot symbol", code="unknown_symbol")
    return found


SYMBOL_NAMES_TTL_S = 30.0
_symbol_names: tuple[float, frozenset[str]] = (float("-inf"), frozenset())


def symbol_name_get(*, symbol: str) -> str:
    """A listed symbol's name (404 when there is none), for the market reads that need no more.

    Checked against this process's set of names, re-read every SYMBOL_NAMES_TTL_S seconds, so a busy
    read costs no query (issue 18); a name not in the set is looked up as `symbol_get` does, so a
    symbol listed since the last re-read is found at once."""
    global _symbol_names
    name = symbol.strip().upper()
    read_at, names = _symbol_names
    now = time.monotonic()
    if now - read_at > SYMBOL_NAMES_TTL_S:
        names = frozenset(Symbol.objects.values_list("symbol", flat=True))
        _symbol_names = (now, names)
    if name in names:
        return name
    return symbol_get(symbol=name).symbol


def symbol_names_forget() -> None:
    """Re-read the set of names on the next call (tests; a process that just synced symbols)."""
    global _symbol_names, _price_precisions
    _symbol_names = (float("-inf"), frozenset())
    _price_precisions = (float("-inf"), {})


_price_precisions: tuple[float, dict[str, int]] = (float("-inf"), {})


def symbol_price_precision(*, symbol: str) -> int | None:
    """A symbol's price precision (decimal places of a price), or None when MEXC does not list it:
    read from this process's map of every symbol's, re-read every SYMBOL_NAMES_TTL_S seconds as
    `symbol_name_get` does, so showing a page of orders costs no query per order; a symbol not in the
    map is looked up alone."""
    global _price_precisions
    read_at, precisions = _price_precisions
    now = time.monotonic()
    if now - read_at > SYMBOL_NAMES_TTL_S:
        precisions = dict(Symbol.objects.values_list("symbol", "price_precision"))
        _price_precisions = (now, precisions)
    found = precisions.get(symbol)
    if found is None:  # listed since the last re-read, or not listed at all: this one symbol's row
        found = Symbol.objects.filter(symbol=symbol).values_list("price_precision", flat=True).first()
        if found is not None:
            precisions[symbol] = found
    return found


def symbols_list(
    *, quote: str | None = None, search: str | None = None, tradable_only: bool = False
) -> QuerySet[Symbol]:
    symbols = Symbol.objects.all()
    if quote:
        symbols = symbols.filter(quote_asset=quote.upper())
    if search:
        term = search.strip().upper()
        symbols = symbols.filter(Q(symbol__contains=term) | Q(base_asset__contains=term))
    if tradable_only:
        symbols = symbols.open_to_api_orders()
    return symbols


def balances_by_asset(*, user: User, mode: str | None = None) -> dict[str, Decimal]:
    """Free amount per asset of the user's current trading mode (what an order can spend)."""
    return {b.asset: b.free for b in balances_for_user(user=user, mode=mode)}


def api_credential_for_user(*, user: User) -> ApiCredential | None:
    """The user's saved key (show only `.masked`), or None."""
    return ApiCredential.objects.filter(user=user).first()


@dataclass(frozen=True)
class LiveBalancesState:
    """How far the live balances on record are to be trusted: when MEXC's account was last read
    whole, and why the latest read failed ("" when it did not)."""

    synced_at: datetime | None
    problem: str

    @property
    def unknown(self) -> bool:
        """No read has succeeded yet: pages show no figures (an empty account is not zero)."""
        return self.synced_at is None

    @property
    def loading(self) -> bool:
        return self.unknown and not self.problem


def live_balances_state(*, user: User) -> LiveBalancesState | None:
    """The state of the user's live balances; None when they have no MEXC key."""
    found = (
        ApiCredential.objects.filter(user=user)
        .values_list("balances_synced_at", "balances_sync_error")
        .first()
    )
    return LiveBalancesState(synced_at=found[0], problem=found[1]) if found else None


def favourite_symbols(*, user: User) -> frozenset[str]:
    return frozenset(FavouriteSymbol.objects.filter(user=user).values_list("symbol", flat=True))


def candles_for(*, symbol: str, interval: str, limit: int = 500) -> list[dict[str, object]]:
    """The latest candles, oldest first, as chart points: time in epoch seconds, prices as strings."""
    rows = Candle.objects.filter(symbol=symbol, interval=interval).order_by("-open_time")[:limit]
    return [
        {
            "time": int(c.open_time.timestamp()),
            "open": str(c.open),
            "high": str(c.high),
            "low": str(c.low),
            "close": str(c.close),
            "volume": str(c.volume),
        }
        for c in reversed(rows)
    ]
