"""The one number format of the pages, the same rule as `window.bruteFormat` in static/js/app.js.

- money (values, P&L, totals), `{{ x|money }}`: cut toward zero, never rounded, so it never shows
  more than there is: two decimals from 1 up (1,234.56), and 4 significant digits below 1, with at
  least two decimals (0.0063291 -> 0.006329, 0.5 -> 0.50, 0.99999 -> 0.9999), so a small value is
  never "0.00"; `{{ x|amount:2 }}` is exactly two decimals, rounded half up;
- prices: the symbol's own price precision, grouped: `{{ p|fixed:symbol.price_precision }}`;
- quantities: the symbol's lot precision (`fixed:symbol.quantity_precision`), or `{{ q|amount }}`
  (as many decimals as the value has, never scientific notation);
- an amount the user may spend or sell (a free balance): `{{ free|available:places }}`, cut toward
  zero, never rounded up: 1.2056 SOL at 2 places shows 1.20, which the exchange accepts, not 1.21,
  which it refuses for lack of funds;
- volumes: compact, `{{ v|compact }}` -> 1.23K / 4.56M / 7.89B;
- a value that rounds to zero never shows a minus sign ("-0.00").

Decimal in, string out, without float rounding: Decimal('1E+4') shows as 10,000.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()
MONEY_DIGITS = 4  # significant digits of a money value below 1
COMPACT = ((Decimal("1e12"), "T"), (Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "K"))


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _grouped(number: Decimal, places: int | str | None, rounding: str = ROUND_HALF_UP) -> str:
    if places in (None, ""):
        places = None
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-int(places)), rounding=rounding)
    else:
        number = number.normalize()
    if number == 0:
        number = abs(number)
    return f"{number:,f}"


@register.filter
def amount(value: object, places: int | None = None) -> str:
    """`{{ x|amount }}` drops trailing zeros; `{{ x|amount:2 }}` shows exactly two decimals."""
    number = _decimal(value)
    if number is None:
        return "—" if value in (None, "") else str(value)
    return _grouped(number, places)


@register.filter
def money(value: object) -> str:
    number = _decimal(value)
    if number is None:
        return "—" if value in (None, "") else str(value)
    return money_text(number)


def money_text(number: Decimal) -> str:
    """The `money` format of one Decimal (see the module's docstring); `bruteFormat.money` in
    static/js/app.js is the same rule for live updates."""
    if abs(number) >= 1 or number == 0:
        return _grouped(number, 2, ROUND_DOWN)
    # adjusted(): the power of ten of the first significant digit (0.0063 -> -3).
    places = max(2, MONEY_DIGITS - 1 - number.adjusted())
    text = _grouped(number, places, ROUND_DOWN)
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


@register.filter
def fixed(value: object, places: int) -> str:
    """`{{ price|fixed:symbol.price_precision }}`: exactly `places` decimals, thousands grouped."""
    return amount(value, places)


@register.filter
def available(value: object, places: int) -> str:
    """`{{ free|available:symbol.quantity_precision }}`: what can be spent, cut toward zero to `places`."""
    number = _decimal(value)
    if number is None:
        return "—" if value in (None, "") else str(value)
    return _grouped(number, places, ROUND_DOWN)


@register.filter
def compact(value: object) -> str:
    """Volumes: 1234567 -> 1.23M."""
    number = _decimal(value)
    if number is None:
        return "—" if value in (None, "") else str(value)
    for size, unit in COMPACT:
        if abs(number) >= size:
            return f"{(number / size).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}{unit}"
    return _grouped(number, 2)


@register.filter
def pct(value: object) -> str:
    """A percentage with two decimals and its sign: +1.25 % / -0.07 %."""
    number = _decimal(value)
    if number is None:
        return "—"
    text = _grouped(number, 2)
    return f"{'+' if number > 0 and text != '0.00' else ''}{text}%"
