"""The new-coin calendar: its parser, and a flaky endpoint (a small local server) that never crashes."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from trading.sniper.calendar import calendar_fetch, calendar_parse
from trading.sniper.models import Listing, ListingEvent
from trading.sniper.services import listings_from_calendar

OPEN_MS = 1_893_456_000_000  # 2030-01-01 00:00 UTC
BODY = {
    "data": {
        "newCoins": [
            {"vcoinId": "abc1", "vcoinName": "ABC", "vcoinNameFull": "Abc Token", "firstOpenTime": OPEN_MS},
            {"vcoinName": "xyz", "projectName": "Xyz", "firstOpenTime": "not a time", "zone": "NEW"},
            {"vcoinId": "nameless", "firstOpenTime": OPEN_MS},
            "not an object",
            {"vcoinName": "BAD TICKER!"},
        ]
    }
}


class Calendar(BaseHTTPRequestHandler):
    reply: tuple[int, bytes, float] = (200, b"{}", 0.0)

    def do_GET(self) -> None:
        status, body, delay = type(self).reply
        time.sleep(delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def calendar() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Calendar)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/operation/new_coin_calendar"
    server.shutdown()
    server.server_close()


def serve(status: int, body: bytes, delay: float = 0.0) -> None:
    Calendar.reply = (status, body, delay)


def test_the_parser_keeps_coins_with_a_ticker_and_treats_every_other_field_as_optional() -> None:
    coins = calendar_parse(BODY)

    assert coins is not None
    assert [(c.ticker, c.name, c.coin_id) for c in coins] == [
        ("ABC", "Abc Token", "abc1"),
        ("XYZ", "Xyz", ""),
    ]
    assert coins[0].opens_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert coins[1].opens_at is None
    assert coins[1].zone == "NEW"
    assert coins[0].symbol() == "ABCUSDT"


@pytest.mark.parametrize("body", [None, [], {"data": None}, {"data": {"newCoins": "x"}}, {"code": 500}])
def test_the_parser_answers_none_for_a_body_of_another_shape(body: object) -> None:
    assert calendar_parse(body) is None


def test_fetch_reads_the_calendar_from_the_configured_endpoint(calendar: str) -> None:
    serve(200, json.dumps(BODY).encode())

    coins = calendar_fetch(url=calendar, timeout=5)

    assert coins is not None
    assert [c.ticker for c in coins] == ["ABC", "XYZ"]


@pytest.mark.parametrize(
    ("status", "body", "delay"),
    [(200, b"<html>blocked</html>", 0.0), (503, b"{}", 0.0), (200, b'{"data": {}}', 0.0), (200, b"{}", 1.0)],
    ids=["not-json", "server-error", "missing-fields", "timeout"],
)
def test_a_failing_calendar_is_logged_and_skipped(
    calendar: str, status: int, body: bytes, delay: float, caplog: pytest.LogCaptureFixture
) -> None:
    serve(status, body, delay)

    assert calendar_fetch(url=calendar, timeout=0.3) is None
    assert "new-coin calendar" in caplog.text


def test_an_unreachable_calendar_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    assert calendar_fetch(url="http://127.0.0.1:9/calendar", timeout=0.3) is None
    assert "unreachable" in caplog.text


@pytest.mark.django_db
def test_calendar_coins_become_expected_listings_with_their_open_time() -> None:
    coins = calendar_parse(BODY)
    assert coins is not None

    assert listings_from_calendar(coins=coins) == 2
    assert listings_from_calendar(coins=coins) == 0

    abc = Listing.objects.get(symbol="ABCUSDT")
    assert abc.state == "expected"
    assert abc.source == "calendar"
    assert abc.name == "Abc Token"
    assert abc.expected_open == datetime(2030, 1, 1, tzinfo=UTC)
    assert ListingEvent.objects.filter(listing=abc, new_state="expected").count() == 1
