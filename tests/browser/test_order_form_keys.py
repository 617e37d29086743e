"""The order form from the keyboard: Enter in a field submits what was typed, as a preview."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack
from tests.browser.test_trading_flow import _sign_up


@pytest.mark.parametrize("field", ["#id_amount", "#id_price"])
def test_enter_in_a_field_previews_the_amount_typed_not_a_share_of_the_balance(
    page: Page, stack: Stack, field: str
) -> None:
    _sign_up(page)
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    page.select_option("#id_type", "LIMIT")
    page.select_option("#id_amount_in", "quote")
    page.fill("#id_amount", "30")
    page.fill("#id_price", "50")

    page.press(field, "Enter")

    preview = page.locator("#order-form table[aria-label=Preview]")
    expect(preview).to_be_visible()
    expect(page.locator("[data-preview-pay]")).to_have_text("30 USDT")
    expect(page.locator("#id_amount")).to_have_value("30")  # not 2500 (25 % of 10,000 USDT)
    expect(page.locator("#id_price")).to_have_value("50")
    expect(page.locator("#open-orders")).not_to_contain_text("Limit")  # previewed, nothing placed
