"""Screenshots of every page at 1440x900 and 390x844, light and dark, into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py            # every page
    .venv/bin/python scripts/screenshots.py market     # pages whose name contains "market"

Runs the same stack as the browser tests (the bundled exchange, daphne, Debian's Chromium through
Playwright) with a throwaway var/, signs up an operator, trades a little on paper (a filled buy, a
resting limit, a position with a stop-loss and a take-profit, a rule, an alert, a notification) so the
pages show real content, then shoots each page. docs/screenshot.png (the README's) is the market page
at 1440x900, light.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Stack, running_stack  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "a-long-and-unusual-passphrase-7"
EMAIL = "trader@example.com"
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}
PAGES = {
    "dashboard": "/",
    "markets": "/markets/",
    "market": "/markets/SOLUSDT/",
    "orders": "/orders/",
    "positions": "/sniper/positions/",
    "portfolio": "/portfolio/",
    "listings": "/sniper/listings/",
    "rules": "/sniper/rules/",
    "rule-form": "/sniper/rules/new/",
    "risk": "/sniper/risk/",
    "alerts": "/sniper/alerts/",
    "inbox": "/notifications/",
    "channels": "/notifications/channels/",
    "settings": "/settings/",
    "tokens": "/accounts/tokens/",
    "backups": "/backups/",
    "api-docs": "/api/v1/docs",
    "login": "/accounts/login/",
}
SETUP = """
from decimal import Decimal
from accounts.models import User
from trading.sniper.models import Position, Rule, PriceAlert
from trading.sniper.services import positions_sync
user = User.objects.get(email="{email}")
User.objects.filter(pk=user.pk).update(role="admin")
positions_sync()
Position.objects.filter(user=user).update(
    stop_loss_pct=Decimal(8), trailing_pct=Decimal(5),
    take_profit=[{{"gain_pct": "10", "sell_pct": "50"}}, {{"gain_pct": "25", "sell_pct": "50"}}],
)
Rule.objects.create(user=user, name="Snipe new listings", any_new_listing=True, amount=Decimal(50),
    stop_loss_pct=Decimal(10), take_profit=[{{"gain_pct": "20", "sell_pct": "50"}}])
Rule.objects.create(user=user, symbol="BTCUSDT", trigger="price_below", trigger_value=Decimal(60000),
    amount=Decimal(100), trailing_pct=Decimal(4))
PriceAlert.objects.create(user=user, symbol="SOLUSDT", kind="above", value=Decimal(500), note="breakout")
"""


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def _prepare(stack: Stack, page: Page) -> None:
    page.goto("/accounts/signup/")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.url}/")
    page.on("pageerror", lambda error: _say(f"page error: {error}"))
    page.on("response", lambda r: _say(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.goto("/markets/SOLUSDT/")
    expect(page.locator("[data-live-state]")).to_have_text("live")
    page.fill("#id_amount", "250")
    page.click("button[name=action][value=place]")
    expect(page.locator("#order-form")).to_contain_text("filled")
    page.select_option("#id_type", "LIMIT")
    page.select_option("#id_amount_in", "base")
    page.fill("#id_amount", "0.5")
    page.fill("#id_price", "90")
    page.click("button[name=action][value=place]")
    expect(page.locator("#open-orders")).to_contain_text("Limit")
    stack.shell(SETUP.format(email=EMAIL))


def _shoot(stack: Stack, browser: object, wanted: str) -> list[Path]:
    shots = []
    for scheme in ("light", "dark"):
        for size_name, viewport in SIZES.items():
            context = browser.new_context(  # type: ignore[attr-defined]
                base_url=stack.url,
                viewport=viewport,
                color_scheme=scheme,
                is_mobile=size_name == "phone",
                has_touch=size_name == "phone",
                device_scale_factor=1,
            )
            context.set_default_timeout(120_000)
            page = context.new_page()
            page.goto("/accounts/login/")
            page.fill("#id_username", EMAIL)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{stack.url}/")
            for name, url in PAGES.items():
                if wanted not in name:
                    continue
                if name == "login":
                    context.clear_cookies()
                page.goto(url)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1500 if name in ("market", "portfolio") else 300)
                path = OUT / f"{name}-{size_name}-{scheme}.png"
                if size_name == "phone":  # the whole page, down to a long list's first screens
                    height = min(
                        page.evaluate("document.documentElement.scrollHeight"), 3 * viewport["height"]
                    )
                    clip = {"x": 0, "y": 0, "width": viewport["width"], "height": height}
                    page.screenshot(path=str(path), full_page=True, clip=clip)
                else:
                    page.screenshot(path=str(path))
                shots.append(path)
            context.close()
    return shots


def main() -> None:
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    OUT.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="brute-shots-"))
    try:
        with running_stack(var) as stack, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=stack.url, viewport=SIZES["desktop"])
            context.set_default_timeout(120_000)
            _prepare(stack, context.new_page())
            context.close()
            shots = _shoot(stack, browser, wanted)
            browser.close()
    finally:
        shutil.rmtree(var, ignore_errors=True)
    readme_shot = OUT / "market-desktop-light.png"
    if readme_shot.exists():
        shutil.copyfile(readme_shot, ROOT / "docs" / "screenshot.png")
    sys.stdout.write(f"{len(shots)} screenshots in {OUT.relative_to(ROOT)}/\n")


if __name__ == "__main__":
    main()
