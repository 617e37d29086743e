"""What rules, arming and positions share, below them: the take-profit ladder's cleaning (a rule's
plan, then its position's), the slippage a limit order allows when API market orders are off (a
rule's buy, an exit's sell), and how much a rule's buy asks for (armed before the open or sent after
it)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from trading.models import Symbol
from trading.sniper.models import Rule


def rule_quote_amount(rule: Rule, symbol: Symbol) -> Decimal:
    """What a rule's market buy spends: its amount, rounded down to the symbol's price step."""
    return rule.amount.quantize(symbol.price_step, ROUND_DOWN)


def rule_limit_buy(rule: Rule, symbol: Symbol, price: Decimal) -> tuple[Decimal, Decimal]:
    """A rule's limit buy at `price`: (the price, the quantity) rounded down to the symbol's steps, so
    the order never costs more than the rule's amount; the quantity is 0 when the price rounds to 0."""
    price = price.quantize(symbol.price_step, ROUND_DOWN)
    qty = (rule.amount / price).quantize(symbol.quantity_step, ROUND_DOWN) if price > 0 else Decimal(0)
    return price, qty


def rule_cap_order(rule: Rule, symbol: Symbol) -> str:
    """The order type of a capped buy (a LIMIT at max_price): the exchange's own IOC where the symbol
    lists it; otherwise a plain LIMIT, whose remainder the sniper cancels as soon as it is accepted
    (`rule_is_ioc` says so). MEXC spot symbols list only LIMIT, LIMIT_MAKER and MARKET."""
    ioc = Rule.CapOrder.IOC
    if rule.max_price_order == ioc and ioc not in symbol.order_types:
        return Rule.CapOrder.RESTING
    return rule.max_price_order


def rule_is_ioc(rule: Rule) -> bool:
    return rule.max_price is not None and rule.max_price_order == Rule.CapOrder.IOC


def rule_cancels_rest(rule: Rule, order_type: str) -> bool:
    """Whether a rule's buy of `order_type` is an immediate-or-cancel emulated with a plain LIMIT:
    its rest is cancelled as soon as the exchange has accepted it (`order_place(cancel_rest=True)`,
    or the armed order's pre-signed cancel)."""
    return rule_is_ioc(rule) and order_type == Rule.CapOrder.RESTING


def slippage() -> Decimal:
    """SNIPER_LIMIT_SLIPPAGE_PCT as a fraction: "2" is Decimal("0.02")."""
    return Decimal(str(settings.SNIPER_LIMIT_SLIPPAGE_PCT)) / 100


def take_profit_clean(value: Any) -> list[dict[str, str]]:
    """[{gain_pct, sell_pct}, ...]: positive gains, sells in (0, 100] adding up to at most 100."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise ValidationError("The take-profit ladder is a list of {gain_pct, sell_pct}")
    levels = []
    for i, level in enumerate(value, 1):
        try:
            gain, sell = Decimal(str(level["gain_pct"])), Decimal(str(level["sell_pct"]))
        except (KeyError, TypeError, ArithmeticError):
            raise ValidationError(f"Level {i} needs a gain_pct and a sell_pct, both numbers") from None
        if gain <= 0 or not 0 < sell <= 100:
            raise ValidationError(f"Level {i}: gain_pct must be above 0 and sell_pct between 0 and 100")
        levels.append({"gain_pct": str(gain), "sell_pct": str(sell)})
    if sum(Decimal(x["sell_pct"]) for x in levels) > 100:
        raise ValidationError("The take-profit ladder sells more than 100% in total")
    return sorted(levels, key=lambda x: Decimal(x["gain_pct"]))
