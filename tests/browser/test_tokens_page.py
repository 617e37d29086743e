"""The API tokens settings page fits its panel (a new-user trial: at 1440 px and 390 px the tokens
table was wider than its panel, and Revoke and the last columns were reachable only sideways)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack
from tests.browser.test_trading_flow import PASSWORD, _sign_up

LONG_NAME = "trading bot on the home server, nightly rebalance"
FITS = """() => {
  const panel = document.querySelector('[data-tokens]');
  const button = panel.querySelector('button[aria-label^="Revoke"]');
  const p = panel.getBoundingClientRect(), b = button.getBoundingClientRect();
  return {
    panelScrolls: panel.scrollWidth > panel.clientWidth,
    pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
    buttonInPanel: b.left >= p.left && b.right <= p.right && b.width > 0,
    buttonInViewport: b.left >= 0 && b.right <= window.innerWidth,
  };
}"""


@pytest.fixture(scope="module")
def token_owner(browser: Browser, stack: Stack) -> str:
    """A new user with two tokens, one with a long name and every scope."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    email = _sign_up(page)
    for name, trade in ((LONG_NAME, True), ("ci", False)):
        page.goto("/accounts/tokens/")
        page.fill("#id_name", name)
        if trade:
            page.check("input[name=scopes][value=trade]")
            page.fill("#id_expires_in_days", "30")
        page.click("button:text('Create token')")
        expect(page.locator("#new-token")).to_be_visible()
    context.close()
    return email


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1440, "height": 900}, {"width": 390, "height": 844}],
    ids=["desktop-1440", "phone-390"],
)
def test_the_tokens_table_fits_its_panel_and_revoke_is_in_view(
    browser: Browser, stack: Stack, token_owner: str, viewport: dict[str, int]
) -> None:
    phone = viewport["width"] < 600
    context = browser.new_context(base_url=stack.url, viewport=viewport, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    try:
        _log_in(page, token_owner)
        page.goto("/accounts/tokens/")
        expect(page.locator("[data-tokens] tbody tr")).to_have_count(2)
        result = page.evaluate(FITS)
        assert result == {
            "panelScrolls": False,
            "pageScrolls": False,
            "buttonInPanel": True,
            "buttonInViewport": True,
        }
        row = page.locator("[data-tokens] tbody tr", has_text=LONG_NAME)
        for text in ("trade", "never", "Revoke"):  # every column is on screen, scopes to last used
            expect(row).to_contain_text(text, ignore_case=True)
        assert page.get_by_role("button", name=f"Revoke {LONG_NAME}").is_visible()
    finally:
        context.close()


def _log_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
