"""The number filters of the pages (trading/templatetags/money.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.templatetags.money import available, fixed


@pytest.mark.parametrize(
    ("free", "places", "shown"),
    [
        (Decimal("1.20564752963"), 2, "1.20"),
        (Decimal("9999.999"), 2, "9,999.99"),
        (Decimal("0.0099"), 2, "0.00"),
        (Decimal("5"), 3, "5.000"),
        ("1.999", 0, "1"),
    ],
)
def test_an_available_amount_is_cut_toward_zero_never_rounded_up(free, places, shown):
    assert available(free, places) == shown


def test_a_plain_fixed_value_still_rounds_half_up():
    assert fixed(Decimal("1.205"), 2) == "1.21"


def test_an_available_amount_without_a_value_shows_a_dash():
    assert available(None, 2) == "—"
