from decimal import Decimal

from trading.exchange.signing import encode_query, format_value, sign, signed_query

SECRET = "45d0b3c26f2644f19bfb98b07741b2f5"
TOTAL = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087"


def test_it_signs_the_fact_sheet_vector():
    assert sign(SECRET, TOTAL) == "fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"


def test_it_signs_the_mixed_query_and_body_vector():
    mixed = TOTAL.replace("type=LIMIT&quantity", "type=LIMITquantity")
    assert sign(SECRET, mixed) == "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592"


def test_it_builds_the_vector_query_from_params_and_appends_the_signature_last():
    params = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("quantity", "1"),
        ("price", "11"),
        ("recvWindow", "5000"),
        ("timestamp", "1644489390087"),
    ]
    assert (
        signed_query(SECRET, params)
        == f"{TOTAL}&signature=fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a"
    )


def test_it_escapes_special_characters_in_uppercase_and_spaces_as_percent_20():
    assert encode_query([("symbols", "BTCUSDT,MXUSDT"), ("n", "BEP20(BSC) x[1]")]) == (
        "symbols=BTCUSDT%2CMXUSDT&n=BEP20%28BSC%29%20x%5B1%5D"
    )


def test_it_formats_decimals_without_exponent_or_trailing_zeros():
    assert format_value(Decimal("1E-7")) == "0.0000001"
    assert format_value(Decimal("12.3400")) == "12.34"
    assert format_value(Decimal("100")) == "100"
    assert format_value(Decimal("1E+2")) == "100"
