"""The terminal's second pass in a real browser: refusals shown, every coin's precision, what a quote
amount really buys, a lost session, phones, positions."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack, wait_until
from tests.browser.test_trading_flow import PASSWORD, _sign_up

PHONE = {"width": 390, "height": 844}
PAGES = [
    "/",
    "/markets/",
    "/markets/SOLUSDT/",
    "/orders/",
    "/sniper/positions/",
    "/portfolio/",
    "/sniper/listings/",
    "/sniper/rules/",
    "/sniper/rules/new/",
    "/sniper/risk/",
    "/sniper/alerts/",
    "/notifications/",
    "/notifications/channels/",
    "/settings/",
    "/accounts/tokens/",
    "/accounts/password/change/",
    "/backups/",
    "/api/v1/docs",
]


def _available(page: Page, asset: str) -> Decimal:
    return Decimal(page.inner_text(f'[data-available="{asset}"]').replace(",", ""))


def _place(
    page: Page, *, amount: str, side: str = "BUY", type: str = "MARKET", amount_in: str = "quote"
) -> None:
    page.check(f"input[name=side][value={side}]")
    page.select_option("#id_type", type)
    page.select_option("#id_amount_in", amount_in)
    page.fill("#id_amount", amount)
    page.click("button[name=action][value=place]")


def test_an_invalid_order_shows_its_message_beside_the_form(page: Page, stack: Stack) -> None:
    _sign_up(page)
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")

    for amount, words in [
        ("0.5", "The minimum order value on SOLUSDT is"),
        ("20000", "Not enough USDT"),
        ("", "Enter an amount."),
        ("1.123", "at most 2 decimal places"),
    ]:
        _place(page, amount=amount)
        expect(page.locator("#order-form")).to_contain_text(words)
    _place(page, amount="1", side="SELL", amount_in="base")
    expect(page.locator("#order-form [role=alert]")).to_contain_text("Not enough SOL")
    # Still on the market page, the form in place, and the failed inputs kept for correcting.
    expect(page).to_have_url(re.compile(r"/markets/SOLUSDT/$"))
    expect(page.locator("#id_amount")).to_have_value("1")


def test_a_coin_priced_below_a_ten_thousandth_shows_a_readable_axis_and_tag(page: Page, stack: Stack) -> None:
    stack.mexc.add_listing("TINYUSDT", opens_at=stack.mexc.now() - 1000, price=Decimal("0.000000011648"))
    stack.manage("syncsymbols")
    _sign_up(page)
    page.goto("/markets/TINYUSDT/")

    wait_until(page, "window.bruteChart && window.bruteChart.candles.data().length > 0", timeout_s=30)
    tag = page.evaluate(
        "() => { const c = window.bruteChart.candles;"
        " return c.priceFormatter().format(c.data().at(-1).close); }"
    )
    assert re.fullmatch(r"0\.0000000\d{5}", tag), tag  # 12 decimals, not "0.00"
    assert Decimal(tag) > 0
    axis_width = page.evaluate("window.bruteChart.candles.priceScale().width()")
    assert axis_width > 90  # room for 0.000000011648, so the axis has labels
    price = page.locator('.big-price[data-price="TINYUSDT"]')
    expect(price).to_have_text(re.compile(r"^0\.0000000\d{5}$"))
    expect(page.locator("#book td.num").first).to_have_text(re.compile(r"^0\.0000000\d{5}$"))


def test_a_25_usdt_market_buy_spends_25_usdt_and_the_preview_said_so(page: Page, stack: Stack) -> None:
    _sign_up(page)
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    assert _available(page, "USDT") == Decimal(10000)

    page.fill("#id_amount", "25")
    page.click("button[name=action][value=preview]")
    expect(page.locator("[data-preview-pay]")).to_have_text("25 USDT")
    expect(page.locator("[data-preview-fee]")).to_have_text(re.compile(r" SOL$"))

    page.click("button[name=action][value=place]")
    expect(page.locator("#order-form")).to_contain_text("BUY SOLUSDT: filled")
    expect(page.locator('[data-available="USDT"]')).to_have_text("9,975.00")
    assert _available(page, "SOL") > 0
    # One toast for one order.
    page.wait_for_timeout(1500)
    assert page.locator("#toasts .toast").count() == 1


def test_an_expired_session_on_place_order_lands_on_log_in_and_back(page: Page, stack: Stack) -> None:
    email = _sign_up(page)
    page.goto("/markets/SOLUSDT/")
    page.context.clear_cookies(name="sessionid")

    _place(page, amount="25")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Fmarkets%2FSOLUSDT%2F$"))
    expect(page.locator("#order-form")).to_have_count(0)
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/markets/SOLUSDT/$"))
    expect(page.locator("[data-live-state]")).to_have_text("live")


@pytest.fixture(scope="module")
def trader_with_history(browser: Browser, stack: Stack) -> tuple[Browser, str]:
    """A signed-up admin with a filled buy, a resting order, a position, a rule and an alert."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    email = _sign_up(page)
    stack.shell(
        f"from accounts.models import User; User.objects.filter(email='{email}').update(role='admin')"
    )
    page.goto("/markets/SOLUSDT/")
    _place(page, amount="250")
    expect(page.locator("#order-form")).to_contain_text("filled")
    page.select_option("#id_type", "LIMIT")
    page.select_option("#id_amount_in", "base")
    page.fill("#id_amount", "0.1")
    page.fill("#id_price", "50")
    page.click("button[name=action][value=place]")
    expect(page.locator("#open-orders")).to_contain_text("Limit")
    stack.shell("from trading.sniper.services import positions_sync; positions_sync()")
    context.close()
    return browser, email


def test_positions_show_unrealised_pnl(trader_with_history: tuple[Browser, str], stack: Stack) -> None:
    browser, email = trader_with_history
    context = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    _log_in(page, email)
    page.goto("/sniper/positions/")
    row = page.locator("tr[data-position]").first
    expect(row).to_contain_text("SOLUSDT")
    # Money is cut to 2 decimals, or to 4 significant digits below 1 (-0.04656); the percent to 2.
    expect(row.locator("[data-unrealised]")).to_have_text(re.compile(r"^-?[\d,]+\.\d{2,}[+-]?\d+\.\d\d%$"))
    # The table fits its panel at 1440 px.
    fits = page.evaluate(
        "() => { const p = document.querySelector('.panel'); return p.scrollWidth <= p.clientWidth; }"
    )
    assert fits
    # Selling asks first.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Sell").click()
    expect(row).to_be_visible()
    context.close()


def test_no_page_scrolls_sideways_on_a_phone(trader_with_history: tuple[Browser, str], stack: Stack) -> None:
    browser, email = trader_with_history
    context = browser.new_context(base_url=stack.url, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    _log_in(page, email)
    wide = {}
    for url in PAGES:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[url] = width
    assert wide == {}
    # The navigation is one compact row, not a quarter of the screen.
    page.goto("/")
    assert page.evaluate("document.querySelector('.site-header').getBoundingClientRect().height") < 60
    context.close()


def _log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
