"""One tick of the price watch: position exits, price alerts and the market triggers of rules."""

from __future__ import annotations

import logging
from decimal import Decimal

from trading.sniper import prices
from trading.sniper.models import Rule
from trading.sniper.prices import MarketView, Quote
from trading.sniper.services.alerts import alerts_check
from trading.sniper.services.positions import positions_monitor
from trading.sniper.services.rules import firing_execute, rule_claim_market

log = logging.getLogger(__name__)
Trigger = Rule.Trigger


def monitor_tick(*, use_feed: bool = True) -> dict[str, int]:
    """Read prices once, then act on them. The monitor loop calls this every ~300 ms."""
    view = MarketView(use_feed=use_feed)
    return {
        "exits": positions_monitor(view=view),
        "alerts": alerts_check(view=view),
        "rules": rules_check_market(view=view),
    }


def rules_check_market(*, view: MarketView) -> int:
    rules = list(
        Rule.objects.filter(enabled=True, any_new_listing=False)
        .exclude(trigger=Trigger.LISTING_OPENS)
        .select_related("user")
    )
    if not rules:
        return 0
    view.load(r.symbol for r in rules)
    fired = 0
    for rule in rules:
        quote = view.quote(rule.symbol)
        reason = rule_triggered(rule, quote) if quote is not None else None
        if reason is None:
            continue
        firing = rule_claim_market(rule=rule, reason=reason)
        if firing is not None:
            fired += 1
            firing_execute(firing_id=firing.pk)
    return fired


def rule_triggered(rule: Rule, quote: Quote) -> str | None:
    """Why the rule fires at this price, or None."""
    value = rule.trigger_value
    price = quote.price
    if value is None:
        return None
    if rule.trigger == Trigger.PRICE_ABOVE and price >= value:
        return f"price {price.normalize():f} >= {value.normalize():f}"
    if rule.trigger == Trigger.PRICE_BELOW and price <= value:
        return f"price {price.normalize():f} <= {value.normalize():f}"
    if rule.trigger in (Trigger.PCT_RISE, Trigger.PCT_DROP):
        return _pct(rule, price, value)
    if rule.trigger == Trigger.VOLUME_SURGE:
        return _volume(rule, value)
    return None


def _pct(rule: Rule, price: Decimal, value: Decimal) -> str | None:
    candles = prices.klines_recent(rule.symbol, rule.window_minutes)
    if not candles or candles[0].open <= 0:
        return None
    change = (price / candles[0].open - 1) * 100
    if rule.trigger == Trigger.PCT_RISE and change >= value:
        return f"up {change:.2f}% over {rule.window_minutes} min (>= {value.normalize():f}%)"
    if rule.trigger == Trigger.PCT_DROP and -change >= value:
        return f"down {-change:.2f}% over {rule.window_minutes} min (>= {value.normalize():f}%)"
    return None


def _volume(rule: Rule, value: Decimal) -> str | None:
    candles = prices.klines_recent(rule.symbol, rule.window_minutes)
    if len(candles) < 2:
        return None
    *before, now = candles
    average = sum((c.quote_volume for c in before), Decimal(0)) / len(before)
    if average > 0 and now.quote_volume >= average * value:
        return (
            f"volume {now.quote_volume:.2f} this minute is {now.quote_volume / average:.1f}x the "
            f"{rule.window_minutes}-min average (>= {value.normalize():f}x)"
        )
    return None
