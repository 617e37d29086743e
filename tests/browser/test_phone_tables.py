"""Tables with buttons on a phone (a trial user at 390 x 844: on /orders/ the open orders' Cancel was cut
to "CANC", the history's Status column was cut, and the positions, rules, firings and channels panels
scrolled sideways with their action columns off screen).

Every such table is a "stack-table" (brute.css): a table while its box is wide, one block per row,
each value named, when it is narrow. At 360 and 390 px every row button is whole on screen and no
panel scrolls; at 1280 px the wide panels are still tables."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, ViewportSize, expect

from tests.browser.conftest import Stack
from tests.browser.test_terminal import _log_in, _place
from tests.browser.test_trading_flow import _sign_up

RULE = "SOL breakout above one dollar, then trail it"
WHY = "refused: the order would take the open exposure past the risk limit of 1,000 USDT for this account"

# Per page: the buttons or links each must show in its table rows (at least one of each); every
# button and link in a table row must be whole on screen.
PAGES = {
    "/orders/": ["Cancel", "Details"],
    "/markets/SOLUSDT/": ["Cancel"],
    "/": ["Cancel"],
    "/sniper/positions/": ["Sell"],
    "/sniper/rules/": ["Delete"],
    "/sniper/alerts/": ["Re-arm", "Delete"],
    "/notifications/channels/": ["Send test", "Disable", "Delete"],
}
# The pages whose table panels span the page: tables at desktop width, as before.
WIDE = ["/orders/", "/markets/SOLUSDT/", "/sniper/positions/", "/sniper/rules/", "/sniper/alerts/"]

MEASURE = """() => {
  const vw = window.innerWidth;
  const actions = [...document.querySelectorAll('main table tbody td :is(button, a)')].map((el) => {
    const r = el.getBoundingClientRect();
    return {text: el.textContent.trim(), left: r.left, right: r.right, width: r.width};
  });
  const scrolling = [...document.querySelectorAll('main .panel')]
    .filter((p) => p.scrollWidth > p.clientWidth)
    .map((p) => (p.querySelector('h2') || p).textContent.trim().slice(0, 40));
  const rows = [...document.querySelectorAll('.stack-table tbody tr')]
    .map((tr) => getComputedStyle(tr).display);
  const labels = [...document.querySelectorAll('.stack-table tbody td[data-label]')]
    .filter((td) => td.getBoundingClientRect().width > 0)
    .map((td) => getComputedStyle(td, '::before').content);
  return {vw, actions, scrolling, rows, labels, pageWidth: document.documentElement.scrollWidth};
}"""


@pytest.fixture(scope="module")
def table_owner(browser: Browser, stack: Stack) -> str:
    """A new trader with a filled buy, two resting limit orders, a position, a rule with a refused
    firing, a fired price alert and an email channel."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(45_000)
    page = context.new_page()
    email = _sign_up(page)
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    _place(page, amount="250")
    expect(page.locator("#order-form")).to_contain_text("filled")
    for amount, price in (("0.1", "50"), ("0.25", "45.5")):  # far below the market: they rest
        page.select_option("#id_type", "LIMIT")
        page.select_option("#id_amount_in", "base")
        page.fill("#id_amount", amount)
        page.fill("#id_price", price)
        page.click("button[name=action][value=place]")
        expect(page.locator("#open-orders")).to_contain_text(price)
    stack.shell("from trading.sniper.services import positions_sync; positions_sync()")

    page.goto("/sniper/rules/new/")
    page.fill("#id_name", RULE)
    page.uncheck("input[name=any_new_listing]")
    page.fill("#id_symbol", "SOLUSDT")
    page.select_option("#id_trigger", "price_above")
    page.fill("#id_trigger_value", "1000000")
    page.fill("#id_amount", "20")
    page.fill("#id_stop_loss_pct", "8")
    page.fill("#id_tp-0-gain_pct", "10")
    page.fill("#id_tp-0-sell_pct", "50")
    page.click("button:text('Save')")
    expect(page.locator(".messages")).to_contain_text("Rule saved")
    stack.shell(
        "from trading.sniper.models import Rule, RuleFiring; "
        f"rule = Rule.objects.get(user__email={email!r}, name={RULE!r}); "
        f"RuleFiring.objects.create(rule=rule, symbol='SOLUSDT', action='skip', reason={WHY!r})"
    )

    page.goto("/sniper/alerts/")
    page.fill("#id_symbol", "SOLUSDT")
    page.select_option("#id_kind", "below")
    page.fill("#id_value", "1")
    page.click("button:text('Add alert')")
    expect(page.locator("main table")).to_contain_text("SOLUSDT")
    stack.shell(
        "from django.utils import timezone; from decimal import Decimal; "
        "from trading.sniper.models import PriceAlert; "
        f"PriceAlert.objects.filter(user__email={email!r}, symbol='SOLUSDT').update("
        "armed=False, triggered_at=timezone.now(), triggered_price=Decimal('123.45'))"
    )

    page.goto("/notifications/channels/")
    page.select_option("#id_type", "email")
    page.fill("#id_label", "My phone inbox")
    page.fill("#id_email_address", "someone.with.a.long.address@example.com")
    page.click("button:text('Add channel')")
    expect(page.locator("#channels table")).to_contain_text("My phone inbox")
    context.close()
    return email


@pytest.mark.parametrize(
    "viewport",
    [{"width": 360, "height": 780}, {"width": 390, "height": 844}, {"width": 1280, "height": 900}],
    ids=["phone-360", "phone-390", "desktop-1280"],
)
def test_every_row_button_is_whole_on_screen_and_no_panel_scrolls_sideways(
    browser: Browser, stack: Stack, table_owner: str, viewport: ViewportSize
) -> None:
    phone = viewport["width"] < 600
    context = browser.new_context(base_url=stack.url, viewport=viewport, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(45_000)
    page = context.new_page()
    try:
        _log_in(page, table_owner)
        for url, names in PAGES.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            seen = page.evaluate(MEASURE)
            shown = {action["text"].lower() for action in seen["actions"]}
            for name in names:
                assert name.lower() in shown, f"{url}: no {name!r} in its table rows ({shown})"
            cut = [a for a in seen["actions"] if a["width"] <= 0 or a["left"] < 0 or a["right"] > seen["vw"]]
            assert cut == [], f"{url}: buttons not whole on screen at {seen['vw']} px: {cut}"
            assert seen["scrolling"] == [], f"{url}: panels scroll sideways: {seen['scrolling']}"
            assert seen["pageWidth"] <= seen["vw"], url
            if phone:
                # One block per row, and each value says which column it is.
                assert set(seen["rows"]) == {"block"}, (url, seen["rows"])
                assert seen["labels"], url
                assert "none" not in seen["labels"], (url, seen["labels"])
            elif url in WIDE:
                assert set(seen["rows"]) == {"table-row"}, (url, seen["rows"])
        if phone:
            # The fault as reported: the open orders' Cancel and the history's status, whole.
            page.goto("/orders/")
            for whole in (
                page.locator("#open-orders").get_by_role("button", name="Cancel").first,
                page.locator("#order-history [data-order-status]").first,
            ):
                whole.scroll_into_view_if_needed()
                expect(whole).to_be_in_viewport(ratio=1)
            page.goto("/sniper/rules/")
            expect(page.get_by_text(WHY)).to_be_visible()
    finally:
        context.close()
