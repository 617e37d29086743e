"""Every page works in Chromium under the Content-Security-Policy: no violation reported, no
script error, htmx loaded, and the pages' own scripts (charts, countdowns, live updates) running."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack

PASSWORD = "a-long-and-unusual-passphrase-7"
SIGNED_OUT = ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/admin/login/"]
SIGNED_IN = [
    "/",
    "/markets/",
    "/markets/SOLUSDT/",
    "/orders/",
    "/portfolio/",
    "/settings/",
    "/notifications/",
    "/notifications/channels/",
    "/sniper/listings/",
    "/sniper/rules/",
    "/sniper/rules/new/",
    "/sniper/positions/",
    "/sniper/risk/",
    "/sniper/alerts/",
    "/accounts/tokens/",
    "/accounts/password/change/",
    "/api/v1/docs",
]
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${where})`);
});
"""


def _visit(page: Page, path: str, console: list[str]) -> list[str]:
    response = page.goto(path)
    assert response is not None
    assert response.status == 200, path
    assert "script-src 'self'" in (response.header_value("content-security-policy") or ""), path
    page.wait_for_load_state("networkidle")
    problems = page.evaluate("window.__cspViolations")
    return [f"{path}: {p}" for p in problems] + [f"{path}: {c}" for c in console]


def test_every_page_works_under_the_csp(page: Page, stack: Stack) -> None:
    page.set_default_timeout(60_000)  # two shared cores: the first pages can be slow to load
    console: list[str] = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda m: (
            console.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None
        ),
    )
    violations: list[str] = []
    for path in SIGNED_OUT:
        violations += _visit(page, path, console)
        console.clear()

    page.goto("/accounts/signup/")
    page.fill("#id_email", f"csp{time.time_ns()}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))
    for path in SIGNED_IN:
        violations += _visit(page, path, console)
        console.clear()
        if path != "/api/v1/docs":
            assert page.evaluate("typeof window.htmx === 'object' && htmx.config.allowEval === false"), path

    assert violations == []


def test_the_pages_own_scripts_run_under_the_csp(page: Page, stack: Stack) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_email", f"csp-js{time.time_ns()}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    expect(page.locator("canvas").first).to_be_visible()

    page.goto("/accounts/tokens/")
    page.fill("#id_name", "bot")
    page.click("form[action$='/accounts/tokens/'] button[type=submit]")
    secret = page.locator("#new-token-value")
    expect(secret).to_be_visible()
    page.wait_for_load_state("load")  # the new page's scripts have run (slow under coverage)
    secret.focus()
    selected = page.evaluate("document.activeElement.selectionEnd - document.activeElement.selectionStart")
    assert selected == len(secret.input_value())
