"""Live trading against the bundled exchange: a resting LIMIT order that the market later trades
through shows FILLED on the orders page without a reload. Nobody asks the exchange: the fill comes
over the account's user data stream (followed by the web process itself without REDIS_URL, as under
`make run`) and reaches the page as a live event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack, running_stack
from tests.browser.test_trading_flow import _sign_up


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Not MEXC_SIMULATED: this installation trades live, with the bundled exchange as its MEXC.
    with running_stack(tmp_path_factory.mktemp("live"), extra_env={"MEXC_SIMULATED": "false"}) as running:
        yield running


@pytest.fixture
def live_page(browser: Browser, live_stack: Stack) -> Iterator[Page]:
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(45_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _stream_subscribed(stack: Stack, email: str, timeout: float = 90.0) -> None:
    """Waits until the web process's user-data stream for this user's key is subscribed."""
    code = (
        "from accounts.models import User; from trading.exchanges import userstream_alive; "
        f"print(userstream_alive(User.objects.get(email={email!r}).pk))"
    )
    deadline = time.monotonic() + timeout
    # The shell's own notes come first ("N objects imported automatically"): the answer is the last line.
    while stack.shell(code).strip().splitlines()[-1] != "True":
        assert time.monotonic() < deadline, f"no user data stream:\n{stack.log.read_text()[-3000:]}"
        time.sleep(1.0)


def test_a_resting_live_limit_order_shows_filled_without_a_reload(live_page: Page, live_stack: Stack) -> None:
    page, mexc = live_page, live_stack.mexc
    email = _sign_up(page)

    # The user's own keys for the exchange (its demo account), checked with it, then live mode.
    page.goto("/settings/")
    page.fill("#id_api_key", mexc.api_key)
    page.fill("#id_api_secret", mexc.api_secret)
    page.get_by_role("button", name="Check and save keys").click()
    expect(page.locator("main")).to_contain_text("checked")
    page.check("input[name=mode][value=live]")
    page.get_by_role("button", name="Save mode").click()
    expect(page.locator("main")).to_contain_text("You are trading LIVE")
    _stream_subscribed(live_stack, email)

    # A LIMIT buy 10 % under the market rests on the exchange.
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    market = Decimal(page.inner_text('.big-price[data-price="SOLUSDT"]').replace(",", ""))
    limit = (market * Decimal("0.9")).quantize(Decimal("0.01"))
    page.select_option("#id_type", "LIMIT")
    page.select_option("#id_amount_in", "base")
    page.fill("#id_amount", "0.1")
    page.fill("#id_price", str(limit))
    page.click("button[name=action][value=place]")
    page.get_by_role("button", name="Confirm live order").click()  # live orders are confirmed first
    expect(page.locator("#toasts")).to_contain_text("BUY SOLUSDT: new", timeout=30_000)
    open_orders = page.locator("#open-orders")
    expect(open_orders).to_contain_text("New", timeout=30_000)
    order_id = open_orders.locator("tr[data-order]").first.get_attribute("data-order")
    assert order_id

    # The orders page, left open: the order is New in both tables.
    page.goto("/orders/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    row = page.locator(f'#order-history tr[data-order="{order_id}"]')
    expect(row.locator("[data-order-status]")).to_have_text("New")
    expect(page.locator(f'#open-orders tr[data-order="{order_id}"]')).to_have_count(1)
    page.evaluate("window.__sameDocument = true")

    # The market falls through the limit: the exchange fills the resting order.
    mexc.set_price("SOLUSDT", (limit * Decimal("0.95")).quantize(Decimal("0.01")))
    expect(row.locator("[data-order-status]")).to_have_text("Filled", timeout=20_000)
    expect(row.locator("[data-order-filled]")).to_contain_text("0.1")
    expect(page.locator(f'#open-orders tr[data-order="{order_id}"]')).to_have_count(0)
    expect(page.locator("#toasts")).to_contain_text("BUY SOLUSDT: filled")
    assert page.evaluate("window.__sameDocument === true")  # no reload happened
