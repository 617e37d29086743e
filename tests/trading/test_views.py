"""The terminal's pages through the test client, with the exchange server behind the paper account."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from tests.factories import UserFactory
from trading import services
from trading.models import Balance, Candle, Mode, Order

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, trader, synced):
    client.force_login(trader)
    return client


def _order_form(**overrides):
    data = {"side": "BUY", "type": "MARKET", "amount_in": "quote", "amount": "25", "action": "place"}
    return data | overrides


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/", "Dashboard"),
        ("/markets/", "SOLUSDT"),
        ("/markets/SOLUSDT/", "Place an order"),
        ("/orders/", "Open orders"),
        ("/portfolio/", "Allocation"),
        ("/settings/", "MEXC API keys"),
    ],
)
def test_each_page_renders_for_a_trader(signed_in, url, text):
    response = signed_in.get(url)
    assert response.status_code == 200
    assert text in response.content.decode()


def test_a_new_trader_starts_with_the_paper_balance(signed_in):
    body = signed_in.get("/markets/SOLUSDT/").content.decode()
    assert 'data-available="USDT">10,000.00</span>' in body


def test_markets_filter_answers_htmx_with_the_table_only(signed_in):
    response = signed_in.get("/markets/", {"q": "sol", "quote": "USDT"}, **HX, HTTP_HX_TARGET="market-table")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="market-table"' in body
    assert "<html" not in body
    assert "SOLUSDT" in body
    assert "ETHUSDT" not in body


def test_markets_flag_symbols_closed_to_api_trading(signed_in):
    body = signed_in.get("/markets/", {"q": "BTCUSDT"}).content.decode()
    assert "API trading disabled" in body


def test_the_order_book_fragment_renders_alone(signed_in):
    response = signed_in.get("/markets/SOLUSDT/", {"fragment": "book"}, **HX)
    body = response.content.decode()
    assert 'id="book"' in body
    assert "<html" not in body


def test_an_unknown_market_is_404(signed_in):
    assert signed_in.get("/markets/NOPENOPE/").status_code == 404
    assert signed_in.get("/markets/nopenope/").status_code == 404


def test_a_market_in_another_case_redirects_permanently_to_the_canonical_symbol(signed_in):
    response = signed_in.get("/markets/solusdt/")
    assert (response.status_code, response["Location"]) == (301, "/markets/SOLUSDT/")
    response = signed_in.get("/markets/SolUsdt/?interval=1h&depth=20")
    assert (response.status_code, response["Location"]) == (301, "/markets/SOLUSDT/?interval=1h&depth=20")
    assert signed_in.get("/markets/SOLUSDT/").status_code == 200


def test_it_places_a_paper_market_buy_by_quote_amount_from_the_form(signed_in, trader):
    response = signed_in.post("/markets/SOLUSDT/order", _order_form())
    assert response.status_code == 302
    order = Order.objects.get(user=trader)
    assert (order.symbol, order.side, order.status, order.source) == ("SOLUSDT", "BUY", "FILLED", "manual")
    # A buy by quote amount spends the amount given, as MEXC's quoteOrderQty does.
    assert Decimal("24.999") < order.cummulative_quote_qty <= Decimal("25")
    usdt = Balance.objects.get(user=trader, mode=Mode.PAPER, asset="USDT")
    assert usdt.free == Decimal("10000") - order.cummulative_quote_qty
    assert Balance.objects.get(user=trader, mode=Mode.PAPER, asset="SOL").free > 0


def test_an_htmx_order_returns_the_fresh_form_with_the_new_balance(signed_in, trader):
    response = signed_in.post("/markets/SOLUSDT/order", _order_form(), **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="order-form"' in body
    assert "<html" not in body
    spent = Order.objects.get(user=trader).cummulative_quote_qty
    left = (Decimal(10000) - spent).quantize(Decimal("0.01"))
    assert f'data-available="USDT">{left:,f}</span>' in body
    assert "BUY SOLUSDT: filled" in body


def test_a_refused_order_shows_the_services_reason_and_keeps_the_input(signed_in, trader):
    response = signed_in.post("/markets/SOLUSDT/order", _order_form(amount="0.5"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "minimum" in body.lower()
    assert 'value="0.5"' in body
    assert not Order.objects.filter(user=trader).exists()


def test_a_limit_order_needs_a_price(signed_in, trader):
    response = signed_in.post(
        "/markets/SOLUSDT/order", _order_form(type="LIMIT", amount_in="base", amount="1")
    )
    assert response.status_code == 400
    assert "A limit order needs a price" in response.content.decode()


def test_preview_shows_price_fee_and_total_without_placing(signed_in, trader):
    limit = _order_form(action="preview", type="LIMIT", amount_in="base", amount="2", price="50")
    response = signed_in.post("/markets/SOLUSDT/order", limit)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'aria-label="Preview"' in body
    assert "data-preview-pay>100 USDT<" in body
    assert "data-preview-fee>0 SOL<" in body  # a resting limit buy pays SOL's maker fee, 0
    market = signed_in.post("/markets/SOLUSDT/order", _order_form(action="preview", amount="100"))
    assert "No order book yet to price this order." in market.content.decode()  # the feed has not run
    assert not Order.objects.filter(user=trader).exists()


def test_a_percent_button_fills_the_amount_from_the_available_balance(signed_in):
    response = signed_in.post("/markets/SOLUSDT/order", _order_form(amount="", percent="25"))
    assert 'value="2500' in response.content.decode()


def test_a_live_order_asks_for_confirmation_first(client, live_trader):
    client.force_login(live_trader)
    first = client.post("/markets/SOLUSDT/order", _order_form(amount="20"))
    assert "Confirm live order" in first.content.decode()
    assert not Order.objects.filter(user=live_trader).exists()
    confirmed = client.post("/markets/SOLUSDT/order", _order_form(amount="20", confirmed="1"))
    assert confirmed.status_code == 302
    assert Order.objects.get(user=live_trader).mode == Mode.LIVE


def test_a_viewer_cannot_place_an_order(client, synced):
    viewer = UserFactory(role=Role.VIEWER)
    client.force_login(viewer)
    assert client.post("/markets/SOLUSDT/order", _order_form()).status_code == 403
    assert "Your role is <strong>viewer</strong>" in client.get("/markets/SOLUSDT/").content.decode()


def test_a_limit_order_rests_and_is_cancelled_from_the_orders_page(signed_in, trader):
    signed_in.post(
        "/markets/SOLUSDT/order", _order_form(type="LIMIT", amount_in="base", amount="1", price="50")
    )
    order = Order.objects.get(user=trader)
    assert order.status == "NEW"
    assert "Cancel all 1" in signed_in.get("/orders/").content.decode()
    # The dashboard's third-of-a-row panel shows the narrow table (no time, type or filled column),
    # the orders page the full one.
    dashboard = signed_in.get("/").content.decode()
    assert f'data-order="{order.pk}"' in dashboard
    assert "<th>Type</th>" not in dashboard
    assert "<th>Type</th>" in signed_in.get("/orders/").content.decode()
    assert signed_in.post(reverse("trading:order_cancel", args=[order.pk])).status_code == 302
    order.refresh_from_db()
    assert order.status == "CANCELED"
    assert Balance.objects.get(user=trader, mode=Mode.PAPER, asset="USDT").locked == 0


def test_cancel_all_asks_first_with_the_count_the_live_list_shows(signed_in, trader):
    limit = _order_form(type="LIMIT", amount_in="base", amount="1", price="50")
    signed_in.post("/markets/SOLUSDT/order", limit)
    assert 'data-confirm="Cancel all 1 open order?"' in signed_in.get("/orders/").content.decode()

    signed_in.post("/markets/SOLUSDT/order", limit)
    live = signed_in.get("/orders/", **HX, HTTP_HX_TARGET="open-orders").content.decode()
    # The form rides in the live fragment: a fill or a new order elsewhere updates the question too.
    assert live.strip().startswith('<div id="open-orders"')
    assert f'action="{reverse("trading:order_cancel_all")}"' in live
    assert 'data-confirm="Cancel all 2 open orders?"' in live

    assert signed_in.post(reverse("trading:order_cancel_all")).status_code == 302
    assert not Order.objects.filter(user=trader, status="NEW").exists()
    assert "Cancel all" not in signed_in.get("/orders/").content.decode()


def test_another_users_order_looks_missing(client, trader, other_trader, synced):
    client.force_login(trader)
    client.post("/markets/SOLUSDT/order", _order_form())
    order = Order.objects.get(user=trader)
    client.force_login(other_trader)
    assert client.get(reverse("trading:order_detail", args=[order.pk])).status_code == 404
    assert client.post(reverse("trading:order_cancel", args=[order.pk])).status_code == 404
    assert order.client_order_id not in client.get("/orders/").content.decode()


def test_order_history_filters_and_answers_htmx(signed_in, trader):
    signed_in.post("/markets/SOLUSDT/order", _order_form())
    response = signed_in.get("/orders/", {"side": "SELL"}, **HX, HTTP_HX_TARGET="order-history")
    body = response.content.decode()
    assert 'id="order-history"' in body
    assert "<html" not in body
    assert "No orders match" in body
    assert "SOLUSDT" in signed_in.get("/orders/", {"side": "BUY"}).content.decode()


def test_candles_are_served_as_chart_points(signed_in):
    Candle.objects.create(
        symbol="SOLUSDT",
        interval="1m",
        open_time="2026-01-01T00:00:00Z",
        open=1,
        high=2,
        low=Decimal("0.5"),
        close=Decimal("1.5"),
        volume=10,
        quote_volume=15,
    )
    body = signed_in.get("/markets/SOLUSDT/candles", {"interval": "1m"}).json()
    assert body["candles"][0]["time"] == 1767225600
    assert Decimal(body["candles"][0]["close"]) == Decimal("1.5")
    assert signed_in.get("/markets/SOLUSDT/candles", {"interval": "1h"}).status_code == 400


def test_live_mode_without_keys_is_refused_with_a_reason(signed_in, trader):
    response = signed_in.post("/settings/mode", {"mode": "live"})
    assert response.status_code == 400
    assert "keys" in response.content.decode().lower()


def test_paper_reset_restores_the_starting_balance(signed_in, trader):
    signed_in.post("/markets/SOLUSDT/order", _order_form())
    signed_in.post("/settings/paper-reset")
    assert Balance.objects.get(user=trader, mode=Mode.PAPER, asset="USDT").free == Decimal("10000")
    assert not Balance.objects.filter(user=trader, mode=Mode.PAPER, asset="SOL").exclude(free=0).exists()


def test_favourites_filter_the_markets(signed_in, trader):
    signed_in.post("/markets/SOLUSDT/favourite")
    body = signed_in.get("/markets/", {"favourites": "on"}).content.decode()
    assert "SOLUSDT" in body
    assert "XRPUSDT" not in body


def test_portfolio_shows_holdings_and_allocation_after_a_buy(signed_in, trader):
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="100")
    body = signed_in.get("/portfolio/").content.decode()
    assert ">SOL<" in body
    assert 'class="allocation"' in body


def test_portfolio_snapshots_build_the_equity_curve(signed_in, trader):
    from trading.portfolio import portfolio_snapshots_record_all

    signed_in.get("/portfolio/")
    assert portfolio_snapshots_record_all() == 1
    points = signed_in.get("/portfolio/equity").json()["points"]
    assert 1 <= len(points) <= 2  # the snapshot, and the value now when a second has passed
    assert all(Decimal(p["v"]) == Decimal("10000") for p in points)


def test_the_equity_curve_ends_at_the_value_now_not_at_the_last_snapshot(signed_in, trader):
    from datetime import timedelta

    from django.utils import timezone

    from trading.models import PortfolioSnapshot

    signed_in.get("/portfolio/")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    PortfolioSnapshot.objects.create(user=trader, mode=Mode.PAPER, value=Decimal("10200"), at=an_hour_ago)

    points = signed_in.get("/portfolio/equity").json()["points"]

    assert [Decimal(p["v"]) for p in points] == [Decimal("10200"), Decimal("10000")]  # the -200 shows


def test_live_events_refresh_the_balance_and_open_orders_fragments(signed_in):
    balances = signed_in.get("/markets/SOLUSDT/", **HX, HTTP_HX_TARGET="balances").content.decode()
    assert balances.strip().startswith('<p class="muted" id="balances"')
    assert "10,000.00" in balances
    orders = signed_in.get("/orders/", **HX, HTTP_HX_TARGET="open-orders").content.decode()
    assert orders.strip().startswith('<div id="open-orders"')


def test_cancel_returns_to_the_page_it_came_from_but_never_off_site(signed_in, trader):
    signed_in.post(
        "/markets/SOLUSDT/order", _order_form(type="LIMIT", amount_in="base", amount="1", price="50")
    )
    order = Order.objects.get(user=trader)
    url = reverse("trading:order_cancel", args=[order.pk])
    assert signed_in.post(url, {"next": "/markets/SOLUSDT/"})["Location"] == "/markets/SOLUSDT/"
    signed_in.post(
        "/markets/SOLUSDT/order", _order_form(type="LIMIT", amount_in="base", amount="1", price="50")
    )
    second = Order.objects.filter(user=trader, status="NEW").get()
    response = signed_in.post(
        reverse("trading:order_cancel", args=[second.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("trading:orders")


def test_a_manual_order_is_checked_against_the_users_risk_limits(signed_in, trader):
    from trading.models import RiskLimits

    RiskLimits.objects.create(user=trader, max_order_value=Decimal("20"))
    response = signed_in.post("/markets/SOLUSDT/order", _order_form(amount="25"))
    assert response.status_code == 400
    assert "above your limit" in response.content.decode()
    assert not Order.objects.filter(user=trader).exists()


def test_a_filled_order_lands_in_the_inbox_once(signed_in, trader, django_capture_on_commit_callbacks):
    from accounts.notifications.models import Notification

    # The notification is sent after the order's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post("/markets/SOLUSDT/order", _order_form())
    order = Order.objects.get(user=trader)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_refresh(user=trader, order_id=order.pk)
    notice = Notification.objects.get(user=trader, kind="order_filled")
    assert notice.title == "BUY SOLUSDT filled"
    assert "paper, market" in notice.body


def test_the_order_form_shows_the_free_balance_cut_down_so_it_can_be_sold_as_typed(signed_in, trader):
    for asset, free in (("SOL", "1.20564752963"), ("USDT", "10.999")):
        Balance.objects.update_or_create(
            user=trader, mode=Mode.PAPER, asset=asset, defaults={"free": Decimal(free), "locked": 0}
        )
    market = signed_in.get("/markets/SOLUSDT/").content.decode()
    assert 'data-available="SOL">1.20</span>' in market
    assert 'data-available="USDT">10.99</span>' in market
    portfolio = signed_in.get("/portfolio/").content.decode()
    assert ">1.20<" in portfolio
    assert ">1.21<" not in portfolio


def test_a_market_closed_to_api_trading_disables_the_order_button_with_the_reason_beside_it(signed_in):
    body = signed_in.get("/markets/BTCUSDT/").content.decode()
    assert 'data-place disabled aria-describedby="order-closed"' in body
    assert 'id="order-closed" role="status">MEXC does not allow API trading of BTCUSDT' in body
    assert 'data-book="BTCUSDT"' in body  # the market data stays


def test_a_tradable_market_keeps_the_order_button_enabled(signed_in):
    body = signed_in.get("/markets/SOLUSDT/").content.decode()
    assert "data-place>Place order</button>" in body
    assert 'id="order-closed"' not in body


def test_a_symbol_the_exchange_stopped_listing_shows_no_live_price_not_its_last_one(signed_in):
    from trading.feed.store import snapshot_write

    snapshot_write(tickers={"SOLUSDT": {"price": "142.5", "change": "1.2"}}, books={}, watched=[])
    assert "142.50" in signed_in.get("/markets/SOLUSDT/").content.decode()
    gone = {"price": None, "change": None, "bid": None, "ask": None, "state": "unavailable"}
    snapshot_write(tickers={"SOLUSDT": gone}, books={}, watched=[])

    page = signed_in.get("/markets/SOLUSDT/").content.decode()

    before, after = page.split('data-price="SOLUSDT"', 1)
    price = before.rsplit("<span", 1)[1] + after
    assert 'class="big-price stale"' in price
    assert "the exchange no longer lists SOLUSDT" in price.split("</span>")[0]
    assert "142.5" not in page
    assert "No order book: the exchange no longer lists SOLUSDT." in page
    assert "No order book yet" not in page


def test_the_paper_reset_asks_first_and_says_what_is_lost(signed_in, trader):
    page = signed_in.get("/settings/").content.decode()

    form = page.split('action="/settings/paper-reset"')[1].split(">")[0]
    assert 'data-confirm="Reset your paper account? ' in form  # the browser asks first (static/js/app.js)
    lost = ("balance is replaced by 10000 USDT", "open paper orders are cancelled", "open paper positions")
    assert all(words in form for words in lost), form


def test_a_market_buy_by_quote_names_its_quote_asset_in_the_order_lists(signed_in, trader):
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="25")
    order = Order.objects.get(user=trader)

    for page in ("/orders/", f"/orders/{order.pk}/"):
        body = signed_in.get(page).content.decode()
        assert "25 USDT" in body, page
        assert "quote<" not in body, page
        assert "(quote)" not in body, page


def test_a_market_closed_to_api_orders_does_not_invite_an_order_in_its_empty_open_orders(signed_in):
    closed = signed_in.get("/markets/BTCUSDT/").content.decode()
    fragment = signed_in.get("/markets/BTCUSDT/?fragment=open-orders", HTTP_HX_REQUEST="true")
    fragment = fragment.content.decode()
    open_market = signed_in.get("/markets/SOLUSDT/").content.decode()

    for body in (closed, fragment):
        assert "MEXC does not take API orders for it" in body
        assert "Place one with the order form" not in body
    assert "Place one with the order form" in open_market


def test_a_holding_shows_the_same_number_on_positions_portfolio_and_the_available_line(signed_in, trader):
    import re

    from trading.sniper.models import Position

    held = Decimal("0.196134213835")
    services.trading_account_get_or_create(user=trader)
    Balance.objects.update_or_create(user=trader, mode=Mode.PAPER, asset="SOL", defaults={"free": held})
    Position.objects.create(user=trader, mode="paper", symbol="SOLUSDT", qty=held, avg_entry=100)

    available = signed_in.get("/markets/SOLUSDT/").content.decode()
    available = available.split('data-available="SOL">')[1].split("<")[0]
    portfolio = signed_in.get("/portfolio/").content.decode()
    positions = signed_in.get("/sniper/positions/").content.decode()

    assert available.startswith("0.19")
    assert "0.196134213835" not in positions
    for page in (portfolio, positions):
        shown = set(re.findall(r">(0\.[12]\d*)<", page))
        assert shown == {available}, (shown, available)
