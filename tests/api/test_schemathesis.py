"""Property-based run of the OpenAPI schema against the app: no 5xx, and every response (status,
headers, body) conforms to the schema. Bounded so it stays well under a minute.

The schema is taken from the API object rather than fetched (schemathesis' lazy fixture loader
does not run on pytest 9); a test elsewhere checks it is what /api/v1/openapi.json serves.
"""

from __future__ import annotations

import json

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

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]

schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))
)
schema.app = WSGIHandler()


@pytest.fixture(autouse=True)
def _in_process_wsgi(settings):
    # Generated traffic is one client; it is not here to trip the limits.
    settings.API_RATE_LIMIT_IP = "100000/min"
    settings.API_RATE_LIMIT_TOKEN = "100000/min"
    settings.API_RATE_LIMIT_LOGIN = "100000/min"
    # As Django's test client does: closing "old" connections per request would end the test's
    # transaction, so the handler runs without it.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_schema(case, owner):
    # Rules no schema can state (an expiry in the past, a blank name) answer 422 to schema-valid
    # input, so the "valid data is accepted" heuristic is left out; every other check runs.
    assume(not reads_as_valid_query(case))
    case.call_and_validate(headers=access_for(owner), excluded_checks=[positive_data_acceptance])


def test_the_served_schema_is_the_one_tested(api):
    served = api.get("/api/v1/openapi.json").json()
    assert served["paths"].keys() == schema.raw_schema["paths"].keys()
