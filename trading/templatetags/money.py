"""Decimal display without float rounding or scientific notation (Decimal('1E+4') is 10000)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def amount(value: object, places: int | None = None) -> str:
    """`{{ x|amount }}` drops trailing zeros; `{{ x|amount:2 }}` shows exactly two decimals."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        return f"{number.quantize(Decimal(1).scaleb(-int(places))):,f}"
    text = format(number.normalize(), "f")
    return text if "." in text or len(text) < 5 else f"{int(text):,}"


@register.filter
def fixed(value: object, places: int) -> str:
    """`{{ price|fixed:2 }}`: exactly `places` decimals, no grouping (live updates write the same)."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{number.quantize(Decimal(1).scaleb(-int(places))):f}"
