"""Numbers in notification and timeline texts, in the pages' own format (trading/templatetags/money.py):
a quantity in the base asset cut to the symbol's quantity precision, a price at its price precision,
an average fill price cut to price precision + AVERAGE_EXTRA_DECIMALS (as the API gives it), a quote
amount in the `money` format with its quote asset. For a symbol not listed: the value as it is,
thousands grouped, with no unit."""

from __future__ import annotations

from decimal import Decimal

from trading.models import Symbol
from trading.schemas import AVERAGE_EXTRA_DECIMALS
from trading.templatetags.money import amount, available, fixed, money_text


def symbol_row(symbol: str) -> Symbol | None:
    return Symbol.objects.filter(symbol=symbol).first()


def _unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def quantity_text(value: Decimal, row: Symbol | None) -> str:
    """19998.99525397 of SOLUSDT at 2 places -> "19,998.99 SOL" (cut: never more than there is)."""
    if row is None:
        return amount(value)
    return _unit(available(value, row.quantity_precision), row.base_asset)


def price_text(value: Decimal, row: Symbol | None) -> str:
    """A price at the symbol's price precision, as `fixed` shows it: 0.0500 (no unit, like the pages)."""
    return amount(value) if row is None else fixed(value, row.price_precision)


def average_text(value: Decimal, row: Symbol | None) -> str:
    """An average fill price cut to price precision + AVERAGE_EXTRA_DECIMALS, trailing zeros dropped down
    to the price precision: 0.050002511991246456 at 4 places -> 0.05000251, 0.05 -> 0.0500."""
    if row is None:
        return amount(value)
    text = available(value, row.price_precision + AVERAGE_EXTRA_DECIMALS)
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(row.price_precision, "0")
    return f"{whole}.{fraction}" if fraction else whole


def quote_text(value: Decimal, row: Symbol | None) -> str:
    """A quote amount: 1234.5 -> "1,234.50 USDT" (the `money` format, cut toward zero)."""
    return money_text(value) if row is None else _unit(money_text(value), row.quote_asset)
