"""The order form's every refusal, as the browser's HTMX request gets it: 400, the form partial with the
message in words beside it, and nothing saved. Also the quote-amount sizing and what the preview says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from trading import services
from trading.exchanges import public_client, run
from trading.feed.store import snapshot_write
from trading.models import Balance, Mode, Order
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/markets/SOLUSDT/"}


@pytest.fixture
def signed_in(client: Client, trader: User, synced: SimExchangeThread) -> Client:
    client.force_login(trader)
    return client


def _form(**overrides: str) -> dict[str, str]:
    return {
        "side": "BUY",
        "type": "MARKET",
        "amount_in": "quote",
        "amount": "25",
        "action": "place",
    } | overrides


def _refusal(client: Client, data: dict[str, str]) -> str:
    response = client.post("/markets/SOLUSDT/order", data, **HX)
    body = response.content.decode()
    assert response.status_code == 400
    assert body.lstrip().startswith('<div id="order-form">')  # the partial, swapped in place
    assert "<html" not in body
    return body


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_form(amount=""), "Enter an amount."),
        (_form(amount="0"), "Enter an amount above zero."),
        (_form(amount="-5"), "Enter an amount above zero."),
        (_form(amount="1e3"), "Write the amount in full, without an exponent: type 1000, not “1e3”."),
        (_form(amount="1e30"), "Write the amount in full, without an exponent."),
        (_form(amount="abc"), "Enter the amount as a number"),
        (_form(amount="9" * 300), "That amount is too large: at most 18 digits before the decimal point."),
        (_form(amount="1.123456789"), "at most 2 decimal places"),
        (_form(amount="0.5"), "The minimum order value on SOLUSDT is"),
        (_form(amount="20000"), "Not enough USDT"),
        (_form(side="SELL", amount_in="base", amount="5"), "Not enough SOL"),
        (_form(type="LIMIT", amount_in="base", amount="1"), "A limit order needs a price above zero."),
        (_form(type="LIMIT", amount="0.001", price="100"), "is less than one lot"),
    ],
    ids=[
        "empty", "zero", "negative", "1e3", "1e30", "abc", "300-digits", "9-decimals", "below-minimum",
        "above-balance", "sell-more-than-held", "limit-without-price", "limit-in-quote-below-a-lot",
    ],
)  # fmt: skip
def test_every_refused_order_says_why_in_place_and_saves_nothing(
    signed_in: Client, trader: User, data: dict[str, str], words: str
) -> None:
    body = _refusal(signed_in, data)
    assert words in body
    assert "Constraint" not in body
    assert not Order.objects.filter(user=trader).exists()


def test_a_negative_limit_price_gets_one_message(signed_in: Client, trader: User) -> None:
    body = _refusal(signed_in, _form(type="LIMIT", amount_in="base", amount="1", price="-1"))
    assert body.count("A limit order needs a price above zero.") == 1
    assert "greater than or equal to" not in body


@pytest.mark.parametrize(
    "data",
    [_form(amount_in="base", amount="0.123", action="preview"), _form(amount="25.123456", action="preview")],
    ids=["base-3-decimals", "quote-6-decimals"],
)
def test_the_preview_refuses_what_placing_would_refuse(
    signed_in: Client, trader: User, data: dict[str, str]
) -> None:
    body = _refusal(signed_in, data)
    assert "at most 2 decimal places" in body
    assert "YOU PAY" not in body.upper()
    assert not Order.objects.filter(user=trader).exists()


def test_a_refusal_by_the_users_risk_limits_says_so_in_place(signed_in: Client, trader: User) -> None:
    from trading.models import RiskLimits

    RiskLimits.objects.create(user=trader, max_order_value=Decimal("20"))
    assert "above your limit" in _refusal(signed_in, _form(amount="25"))
    assert not Order.objects.filter(user=trader).exists()


def _feed_the_book_to_the_cache() -> None:
    """What the market feed does: the page's preview reads the book from the cache snapshot."""
    depth = run(public_client, lambda exchange: exchange.depth("SOLUSDT", limit=20))
    side = lambda levels: [[f"{lv.price:f}", f"{lv.quantity:f}"] for lv in levels]  # noqa: E731
    snapshot_write(
        tickers=None, books={"SOLUSDT": {"asks": side(depth.asks), "bids": side(depth.bids)}}, watched=[]
    )


def test_a_quote_amount_buy_spends_that_amount_and_the_preview_said_so(
    signed_in: Client, trader: User
) -> None:
    _feed_the_book_to_the_cache()
    preview = signed_in.post("/markets/SOLUSDT/order", _form(action="preview"), **HX).content.decode()
    assert '<td class="num" data-preview-pay>25 USDT</td>' in preview
    fee = preview.split("data-preview-fee>")[1].split("</td>")[0]
    assert fee.endswith(" SOL")  # charged in the coin received, as on MEXC spot
    receive = Decimal(preview.split("data-preview-receive>")[1].split(" SOL</td>")[0])

    signed_in.post("/markets/SOLUSDT/order", _form(), **HX)

    order = Order.objects.get(user=trader)
    assert Decimal("24.999") < order.cummulative_quote_qty <= Decimal(25)
    usdt = Balance.objects.get(user=trader, mode=Mode.PAPER, asset="USDT").free
    assert Decimal(10000) - usdt == order.cummulative_quote_qty
    sol = Balance.objects.get(user=trader, mode=Mode.PAPER, asset="SOL").free
    assert abs(sol - receive) < Decimal("0.00000002")  # the preview's coin, to its rounding


def test_a_limit_order_sized_in_quote_buys_what_that_amount_buys_at_its_price(
    signed_in: Client, trader: User
) -> None:
    signed_in.post("/markets/SOLUSDT/order", _form(type="LIMIT", amount="100", price="50"), **HX)

    order = Order.objects.get(user=trader)
    assert (order.type, order.price, order.quantity) == ("LIMIT", Decimal(50), Decimal(2))


def test_a_market_sell_sized_in_quote_sells_the_coin_worth_that_much(signed_in: Client, trader: User) -> None:
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="500")
    _feed_the_book_to_the_cache()  # the form sizes the sell at the best bid, as the feed has it

    response = signed_in.post("/markets/SOLUSDT/order", _form(side="SELL", amount="100"), **HX)

    assert response.status_code == 200, response.content.decode()

    sell = Order.objects.get(user=trader, side="SELL")
    assert sell.status == "FILLED"
    assert Decimal(95) < sell.cummulative_quote_qty < Decimal(105)


def test_a_100_percent_sell_leaves_no_dust_the_lot_could_sell(signed_in: Client, trader: User) -> None:
    services.order_place(user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="500")
    form = signed_in.post("/markets/SOLUSDT/order", _form(side="SELL", amount="", percent="100"), **HX)
    amount = form.content.decode().split('name="amount" value="')[1].split('"')[0]

    signed_in.post("/markets/SOLUSDT/order", _form(side="SELL", amount_in="base", amount=amount), **HX)

    left = Balance.objects.get(user=trader, mode=Mode.PAPER, asset="SOL").free
    assert Decimal(0) <= left < Decimal("0.01")  # SOL's lot: what is left cannot be sold


def test_an_htmx_request_that_lost_its_session_is_sent_to_log_in_and_back(client: Client, synced) -> None:
    response = client.post("/markets/SOLUSDT/order", _form(), **HX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fmarkets%2FSOLUSDT%2F"
    assert response.content == b""


def test_a_cancel_from_the_refreshed_open_orders_goes_back_to_the_page_not_the_fragment(
    signed_in: Client, trader: User
) -> None:
    signed_in.post("/markets/SOLUSDT/order", _form(type="LIMIT", amount_in="base", amount="1", price="50"))
    fragment = signed_in.get("/markets/SOLUSDT/?fragment=open-orders", **HX).content.decode()

    assert 'name="next" value="/markets/SOLUSDT/"' in fragment
    assert "fragment=" not in fragment.split('name="next"')[1].split(">")[0]


@pytest.mark.parametrize(
    ("field", "typed", "words"),
    [
        ("amount", "1e3", "Write the amount in full, without an exponent: type 1000, not “1e3”."),
        ("amount", "2.5E-2", "Write the amount in full, without an exponent: type 0.025, not “2.5E-2”."),
        ("amount", "1e999999999", "Write the amount in full, without an exponent."),
        ("amount", "0,5", "Use a point for decimals: 0.5, not 0,5."),
        ("amount", "1,500", "“1,500” reads two ways; write the amount without a comma: 1500 or 1.500."),
        ("amount", "12,345,678", "without thousands commas, or with its decimal point: 12345678."),
        ("amount", "0,500", "Use a point for decimals: 0.500, not 0,500."),
        ("amount", "1234567890123456789", "That amount is too large: at most 18 digits before the decimal"),
        ("amount", "0." + "1" * 19, "The amount has too many decimals: at most 18 after the point."),
        ("price", "1e2", "Write the limit price in full, without an exponent: type 100, not “1e2”."),
        ("price", "9" * 40, "That limit price is too large: at most 18 digits before the decimal point."),
    ],
    ids=["exponent", "exponent-negative", "exponent-huge", "decimal-comma", "comma-1500", "commas",
         "comma-0500", "19-digits", "19-decimals", "price-exponent", "price-40-digits"],
)  # fmt: skip
def test_a_mistyped_number_gets_its_own_words_and_stays_in_the_field_as_typed(
    signed_in: Client, trader: User, field: str, typed: str, words: str
) -> None:
    data = _form(type="LIMIT", amount_in="base", amount="1", price="50") | {field: typed}

    body = _refusal(signed_in, data)

    assert words in body
    assert body.count(words) == 1
    # A text field, not type=number: the browser would blank what it cannot read before sending it.
    tag = (
        body.split(f'name="{field}"')[0].rsplit("<input", 1)[1]
        + body.split(f'name="{field}"')[1].split(">")[0]
    )
    assert 'type="text"' in tag
    assert 'inputmode="decimal"' in tag
    assert f'value="{typed}"' in tag
    assert not Order.objects.filter(user=trader).exists()


def test_an_amount_with_thousands_commas_as_the_page_shows_them_is_read(
    signed_in: Client, trader: User
) -> None:
    signed_in.post("/markets/SOLUSDT/order", _form(type="LIMIT", amount="1,000.50", price="50"), **HX)

    order = Order.objects.get(user=trader)
    assert order.quantity * order.price == Decimal("1000.50")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_form(amount="20000"), "This order exceeds your available 10,000.00 USDT."),
        (_form(amount="1000000"), "This order exceeds your available 10,000.00 USDT."),
        (_form(type="LIMIT", amount_in="base", amount="300", price="50"), "exceeds your available 10,000.00"),
        (_form(side="SELL", amount_in="base", amount="5"), "This order exceeds your available 0.00 SOL."),
    ],
    ids=["market-buy-in-quote", "market-buy-1000000", "limit-buy", "sell-more-than-held"],
)  # fmt: skip
def test_a_preview_beyond_the_balance_warns_and_places_nothing(
    signed_in: Client, trader: User, data: dict[str, str], words: str
) -> None:
    _feed_the_book_to_the_cache()

    response = signed_in.post("/markets/SOLUSDT/order", data | {"action": "preview"}, **HX)

    body = response.content.decode()
    assert response.status_code == 200
    assert 'aria-label="Preview"' in body
    assert words in body
    assert not Order.objects.filter(user=trader).exists()


def test_a_preview_within_the_balance_gives_no_warning(signed_in: Client) -> None:
    _feed_the_book_to_the_cache()
    body = signed_in.post(
        "/markets/SOLUSDT/order", _form(amount="10000", action="preview"), **HX
    ).content.decode()
    assert 'aria-label="Preview"' in body, body
    assert "exceeds" not in body


@pytest.mark.parametrize(
    ("percent", "words"),
    [
        ("²", "A share of the balance is a whole number of percent, 1 to 100, not “²”."),
        ("٣", "A share of the balance is a whole number of percent, 1 to 100, not “٣”."),
        ("2.5", "A share of the balance is a whole number of percent, 1 to 100, not “2.5”."),
        ("", "Pick a share: 25, 50, 75 or 100 %."),
        ("999", "999 % is not a share of the balance: pick 1 to 100 %."),
        ("0", "0 % is not a share of the balance: pick 1 to 100 %."),
        ("9" * 5000, "999999999999… % is not a share of the balance: pick 1 to 100 %."),
    ],
    ids=["superscript-2", "arabic-indic-3", "decimal", "empty", "999", "zero", "5000-digits"],
)  # fmt: skip
def test_a_percent_that_is_not_a_whole_1_to_100_is_refused_in_words_and_fills_nothing(
    signed_in: Client, trader: User, percent: str, words: str
) -> None:
    body = _refusal(signed_in, _form(amount="30", percent=percent))

    assert words in body
    assert body.count(words) == 1
    assert 'name="amount" value="30"' in body  # what was typed, kept
    assert 'aria-label="Preview"' not in body
    assert not Order.objects.filter(user=trader).exists()


def test_the_book_depth_reads_only_ascii_digits(signed_in: Client) -> None:
    for depth in ("²", "٣", "1" * 5000):
        response = signed_in.get(f"/markets/SOLUSDT/?fragment=book&depth={depth}", **HX)
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_form(side="HOLD"), "Choose Buy or Sell."),
        (_form(side=""), "Choose Buy or Sell."),
        (_form(type="STOP"), "Choose Market or Limit."),
        (_form(amount_in="usd"), "Give the amount in USDT or SOL."),
        (_form(action="HOLD"), "Press Preview or Place order."),
        (_form(side="HOLD", percent="25"), "Choose Buy or Sell."),
    ],
    ids=["side-hold", "side-empty", "type-stop", "amount-in-usd", "action-hold", "side-hold-percent"],
)  # fmt: skip
def test_a_choice_the_form_does_not_offer_is_refused_with_its_words_shown(
    signed_in: Client, trader: User, data: dict[str, str], words: str
) -> None:
    body = _refusal(signed_in, data)

    assert body.count(words) == 1
    shown_in = body.split(words)[0].rsplit("<ul", 1)[1]  # the error list it is shown in
    assert 'class="errors"' in shown_in or 'class="form-errors"' in shown_in
    assert not Order.objects.filter(user=trader).exists()
