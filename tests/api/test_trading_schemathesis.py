"""The property run of tests/api/test_schemathesis.py over the trading endpoints only, with data in
place (synced symbols, the feed's snapshot, candles, orders and fills) so that generated requests
reach real answers, not only 404s. Orders placed along the way go to the exchange server on loopback."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, assume, settings
from ninja.responses import NinjaJSONEncoder
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.api import api
from tests.api.conftest import access_for, reads_as_valid_query
from trading import services
from trading.feed.store import snapshot_write
from trading.models import Candle

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

TRADING = r"^/api/v1/(symbols|markets|orders|fills|balances|portfolio)"
schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))
).include(path_regex=TRADING)
schema.app = WSGIHandler()


@pytest.fixture(autouse=True)
def _in_process_wsgi(settings):
    settings.API_RATE_LIMIT_IP = "100000/min"
    settings.API_RATE_LIMIT_TOKEN = "100000/min"
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def market(synced, owner):
    snapshot_write(
        tickers={"SOLUSDT": {"price": "127.4", "change": "1.5", "bid": "127.39", "ask": "127.41"}},
        books={
            "SOLUSDT": {
                "bids": [["127.39", "2"]],
                "asks": [["127.41", "3"]],
                "trades": [{"p": "127.4", "q": "1", "s": "BUY", "t": 1_767_225_600_000}],
            }
        },
        watched=["SOLUSDT"],
    )
    Candle.objects.create(symbol="SOLUSDT", interval="1m", open_time="2026-01-01T00:00Z", close=Decimal(127))
    services.order_place(user=owner, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="100")
    services.order_place(user=owner, symbol="SOLUSDT", side="BUY", type="LIMIT", quantity="1", price="50")
    return synced


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_trading_api_conforms_to_its_schema(case, market, owner):
    assume(not reads_as_valid_query(case))
    case.call_and_validate(headers=access_for(owner), excluded_checks=[positive_data_acceptance])
