"""Portfolio reads (holdings, value, P&L, equity curve) and the snapshot that records value over time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from trading import quotes
from trading.exchange.parsing import dec
from trading.models import Balance, Fill, Mode, Order, PortfolioSnapshot, Symbol, TradingAccount
from trading.selectors import trading_mode_for_user
from trading.services.risk import day_start

VALUE_ASSET = "USDT"
CENTS = Decimal("0.01")


@dataclass
class Holding:
    asset: str
    free: Decimal
    locked: Decimal
    market: str | None
    price: Decimal | None
    value: Decimal | None = None
    allocation_pct: Decimal = Decimal(0)
    avg_cost: Decimal | None = None
    pnl: Decimal | None = None
    pnl_pct: Decimal | None = None
    # Display: prices in the market's own decimals, amounts in the coin's lot (the quote asset: cents).
    price_decimals: int = 2
    qty_decimals: int = 8

    @property
    def pnl_negative(self) -> bool:
        return self.pnl is not None and self.pnl < 0


@dataclass
class Portfolio:
    quote: str
    total_value: Decimal
    holdings: list[Holding] = field(default_factory=list)
    unrealized_pnl: Decimal = Decimal(0)
    day_pnl: Decimal | None = None
    # What the day's P&L is measured from, as the page says it after "since".
    day_since: str = "00:00 UTC"

    @property
    def unrealized_negative(self) -> bool:
        return self.unrealized_pnl < 0

    @property
    def day_negative(self) -> bool:
        return self.day_pnl is not None and self.day_pnl < 0


def _price_of(asset: str, tickers: dict[str, dict[str, Any]]) -> tuple[str | None, Decimal | None]:
    if asset == VALUE_ASSET:
        return None, Decimal(1)
    market = f"{asset}{VALUE_ASSET}"
    price = dec(tickers.get(market, {}).get("price"), None)
    return market, price


def average_costs(*, user: Any, mode: str) -> dict[str, Decimal]:
    """Average entry price per base asset from the user's fills, in time order (sells keep the average)."""
    held: dict[str, Decimal] = defaultdict(Decimal)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    fills = (
        Fill.objects.filter(order__user=user, order__mode=mode, order__symbol__endswith=VALUE_ASSET)
        .select_related("order")
        .order_by("time", "id")
    )
    for fill in fills:
        asset = fill.order.symbol.removesuffix(VALUE_ASSET)
        if fill.order.side == Order.Side.BUY:
            received = fill.qty - (fill.commission if fill.commission_asset == asset else Decimal(0))
            paid = fill.quote_qty + (fill.commission if fill.commission_asset == VALUE_ASSET else Decimal(0))
            held[asset] += received
            cost[asset] += paid
        elif held[asset] > 0:
            sold = min(fill.qty, held[asset])
            cost[asset] -= cost[asset] * sold / held[asset]
            held[asset] -= sold
    return {asset: cost[asset] / held[asset] for asset in held if held[asset] > 0}


def portfolio_for_user(*, user: Any) -> Portfolio:
    mode = trading_mode_for_user(user=user)
    tickers = quotes.tickers_snapshot()
    costs = average_costs(user=user, mode=mode)
    holdings = []
    balances = [b for b in Balance.objects.for_user(user).filter(mode=mode) if b.total > 0]
    precisions = {
        row[0]: row[1:]
        for row in Symbol.objects.filter(
            symbol__in=[f"{b.asset}{VALUE_ASSET}" for b in balances]
        ).values_list("symbol", "price_precision", "quantity_precision")
    }
    for balance in balances:
        market, price = _price_of(balance.asset, tickers)
        holding = Holding(balance.asset, balance.free.normalize(), balance.locked.normalize(), market, price)
        if market in precisions:
            holding.price_decimals, holding.qty_decimals = precisions[market]
        elif balance.asset == VALUE_ASSET:
            holding.qty_decimals = 2
        if price is not None:
            # Exact, as is the P&L: the pages cut them for display (the `money` filter), so a holding
            # worth 0.0063 USDT shows that, not a rounded 0.01 it is not worth.
            holding.value = balance.total * price
        avg = costs.get(balance.asset)
        if avg and price is not None:
            holding.avg_cost = avg.quantize(Decimal("0.00000001")).normalize()
            holding.pnl = (price - avg) * balance.total
            holding.pnl_pct = ((price / avg - 1) * 100).quantize(CENTS)
        holdings.append(holding)
    total = sum((h.value for h in holdings if h.value is not None), Decimal(0))
    for h in holdings:
        h.allocation_pct = (
            (h.value / total * 100).quantize(Decimal("0.1")) if total and h.value else Decimal(0)
        )
    holdings.sort(key=lambda h: h.value or Decimal(0), reverse=True)
    result = Portfolio(VALUE_ASSET, total, holdings)
    result.unrealized_pnl = sum((h.pnl for h in holdings if h.pnl is not None), Decimal(0))
    result.day_pnl, result.day_since = _day_change(user=user, mode=mode, now_value=result.total_value)
    return result


def _day_change(*, user: Any, mode: str, now_value: Decimal) -> tuple[Decimal | None, str]:
    """The value now against the value at 00:00 UTC: the last snapshot at or before midnight, or, when
    the paper account was reset after that snapshot (today, or yesterday after the last snapshot), the
    balance the reset started it with. An account first valued today is measured from its first
    snapshot. With what it is measured from, for the page."""
    midnight = day_start()
    mine = PortfolioSnapshot.objects.filter(user=user, mode=mode)
    baseline = mine.filter(at__lte=midnight).order_by("-at", "-id").first()
    reset = _paper_reset(user=user, mode=mode)
    if reset is not None and (baseline is None or reset[0] > baseline.at):
        since = f"the reset at {reset[0]:%H:%M} UTC" if reset[0] > midnight else "00:00 UTC"
        return now_value - reset[1], since
    if baseline is None:
        baseline = mine.filter(at__gt=midnight).order_by("at", "id").first()
    if baseline is None:
        return None, "00:00 UTC"
    return now_value - baseline.value, "00:00 UTC"


def _paper_reset(*, user: Any, mode: str) -> tuple[datetime, Decimal] | None:
    """When the user's paper account was last reset, and the balance it started again with."""
    if mode != Mode.PAPER:
        return None
    account = TradingAccount.objects.filter(user=user, paper_reset_at__isnull=False).first()
    if account is None or account.paper_reset_at is None:
        return None
    return account.paper_reset_at, account.paper_start_amount


def equity_points(*, user: Any, limit: int = 2000) -> list[dict[str, Any]]:
    """The recorded values, oldest first, then the value now (when every price is known): a move since
    the last snapshot shows at once instead of up to five minutes later, or never if it came back."""
    mode = trading_mode_for_user(user=user)
    rows = PortfolioSnapshot.objects.filter(user=user, mode=mode).order_by("-at")[:limit]
    points: list[dict[str, Any]] = [
        {"t": int(row.at.timestamp()), "v": str(row.value)} for row in reversed(rows)
    ]
    now = portfolio_for_user(user=user)
    second = int(timezone.now().timestamp())
    if all(h.price is not None for h in now.holdings) and (not points or int(points[-1]["t"]) < second):
        points.append({"t": second, "v": str(now.total_value)})
    return points


def portfolio_snapshot_record(*, user: Any) -> PortfolioSnapshot | None:
    """Writes the current value; skipped while prices are unknown, so the curve never shows a false zero."""
    portfolio = portfolio_for_user(user=user)
    if any(h.price is None for h in portfolio.holdings):
        return None
    return PortfolioSnapshot.objects.create(
        user=user, mode=trading_mode_for_user(user=user), value=portfolio.total_value
    )


def portfolio_snapshots_record_all() -> int:
    """One snapshot for every user with a trading account; returns how many were written."""
    written = 0
    for account in TradingAccount.objects.select_related("user").filter(user__is_active=True):
        if portfolio_snapshot_record(user=account.user) is not None:
            written += 1
    return written
