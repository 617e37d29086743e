import pytest

from trading.exchange import errors as e


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (700002, e.InvalidSignature),
        (602, e.InvalidSignature),
        (700003, e.TimestampOutOfWindow),
        (700001, e.ApiKeyInvalid),
        (10072, e.ApiKeyInvalid),
        (400, e.ApiKeyInvalid),
        (700007, e.PermissionDenied),
        (700006, e.PermissionDenied),
        (10007, e.SymbolNotApiTradable),
        (30051, e.MarketOrdersDisabled),
        (30018, e.MarketOrdersDisabled),
        (30019, e.MarketOrdersDisabled),
        (30002, e.BelowMinimum),
        (30004, e.InsufficientBalance),
        (10101, e.InsufficientBalance),
        (30087, e.PriceOutOfRange),
        (-2011, e.UnknownOrder),
        (-2013, e.UnknownOrder),
        (-1121, e.InvalidSymbol),
        (429, e.RateLimited),
        (503, e.ExchangeUnavailable),
        (123456, e.ExchangeError),
    ],
)
def test_it_maps_mexc_codes_to_typed_errors(code, cls):
    assert type(e.error_for(code, "x")) is cls


def test_it_tells_the_two_meanings_of_700004_apart():
    missing_sig = "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
    missing_ref = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
    assert isinstance(e.error_for(700004, missing_sig), e.InvalidSignature)
    assert isinstance(e.error_for(700004, missing_ref), e.InvalidParameter)


def test_messages_name_the_symbol_in_words_a_user_understands():
    assert str(e.error_for(10007, "symbol not support api", symbol="BTCUSDT")) == (
        "MEXC does not allow API trading of BTCUSDT"
    )
    assert "market orders" in str(e.error_for(30051, "api market order is disabled", symbol="XUSDT"))
    assert "0.5USDT" in str(e.error_for(30002, "The minimum transaction volume cannot be less than:0.5USDT"))


def test_errors_keep_the_raw_code_and_message_for_logs():
    err = e.error_for(30004, "Insufficient position", http_status=400)
    assert (err.code, err.raw_message, err.http_status) == (30004, "Insufficient position", 400)
    assert isinstance(err, e.OrderRejected)


def test_outcome_unknown_is_an_unavailability_and_names_the_client_order_id():
    err = e.OutcomeUnknown(client_order_id="brute-1")
    assert isinstance(err, e.ExchangeUnavailable)
    assert "brute-1" in str(err)
