"""A trader's first session, end to end in a real browser."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack

PASSWORD = "a-long-and-unusual-passphrase-7"


def _sign_up(page: Page) -> str:
    email = f"trader{time.time_ns()}@example.com"
    page.goto("/accounts/signup/")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("h1")).to_have_text("Dashboard")
    return email


def _available_usdt(page: Page) -> Decimal:
    return Decimal(page.inner_text('[data-available="USDT"]').replace(",", ""))


def test_a_trader_signs_up_watches_a_market_and_trades_on_paper(page: Page, stack: Stack) -> None:
    _sign_up(page)
    expect(page.locator(".mode-paper")).to_have_text("PAPER TRADING")
    expect(page.locator(".mode-simulated")).to_contain_text("SIMULATED MARKET")

    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")

    # The price moves on screen as the exchange moves it, without a reload.
    price = page.locator('.big-price[data-price="SOLUSDT"]')
    before = Decimal(price.inner_text())
    stack.mexc.set_price("SOLUSDT", (before * Decimal("1.03")).quantize(Decimal("0.01")))
    page.wait_for_function(
        "([el, old]) => el.textContent.trim() !== old && Number(el.textContent) > Number(old) * 1.02",
        arg=[price.element_handle(), str(before)],
    )

    # A paper market buy by quote amount: the fill shows up live, and so does the new balance.
    assert _available_usdt(page) == Decimal(10000)
    page.select_option("#id_type", "MARKET")
    page.select_option("#id_amount_in", "quote")
    page.fill("#id_amount", "25")
    page.click("button[name=action][value=place]")
    expect(page.locator("#toasts")).to_contain_text("BUY SOLUSDT: filled")
    # The balance partial is swapped in after the toast; wait for the number itself, not its format.
    # (outerHTML swap: query the element afresh on every poll.)
    page.wait_for_function(
        """() => {
            const el = document.querySelector('[data-available="USDT"]');
            return el !== null && Number(el.textContent.replace(/,/g, '')) < 10000;
        }"""
    )
    spent = Decimal(10000) - _available_usdt(page)
    assert Decimal(20) < spent <= Decimal(25)
    assert Decimal(page.inner_text('[data-available="SOL"]')) > 0

    # A limit order far below the market rests; it shows in the open orders and can be cancelled.
    page.select_option("#id_type", "LIMIT")
    page.select_option("#id_amount_in", "base")
    page.fill("#id_amount", "0.1")
    page.fill("#id_price", "50")
    page.click("button[name=action][value=place]")
    open_orders = page.locator("#open-orders")
    expect(open_orders).to_contain_text("Limit")
    expect(open_orders).to_contain_text("New")
    open_orders.get_by_role("button", name="Cancel").click()
    expect(page.locator(".messages")).to_contain_text("Canceled BUY SOLUSDT")
    expect(page.locator("#open-orders")).to_contain_text("No open orders on this market.")

    # The portfolio now holds SOL beside the USDT left.
    page.goto("/portfolio/")
    holdings = page.locator("table").first
    expect(holdings).to_contain_text("SOL")
    expect(holdings).to_contain_text("USDT")
    expect(page.locator(".allocation")).to_contain_text("SOL")


def test_the_pages_work_without_javascript(browser, stack: Stack) -> None:
    context = browser.new_context(base_url=stack.url, java_script_enabled=False)
    page = context.new_page()
    _sign_up(page)
    page.goto("/markets/?q=SOL")
    expect(page.locator("#market-table")).to_contain_text("SOL/USDT")
    page.goto("/markets/SOLUSDT/")
    page.fill("#id_amount", "30")
    page.click("button[name=action][value=place]")
    expect(page.locator(".messages")).to_contain_text("BUY SOLUSDT: filled")
    context.close()


def test_the_font_and_styles_come_from_static(page: Page, stack: Stack) -> None:
    page.goto("/accounts/login/")
    page.wait_for_function("() => document.fonts.check('16px \"JetBrains Mono\"')")
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "JetBrains Mono" in family
