"""A body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413: the API's error shape, or a page."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BIG = 3 * 1024 * 1024  # over Django's 2.5 MB default


def test_an_api_body_over_the_limit_is_413_in_the_error_shape(caplog):
    client = Client()
    client.force_login(UserFactory())
    body = json.dumps({"name": "x" * BIG, "scopes": ["read"]})
    with caplog.at_level(logging.INFO):
        response = client.post("/api/v1/auth/tokens", body, content_type="application/json")
    assert response.status_code == 413, response.content[:500]
    assert response.json() == {
        "error": {"code": "payload_too_large", "message": response.json()["error"]["message"], "details": []}
    }
    assert "too large" in response.json()["error"]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_unauthenticated_api_body_over_the_limit_is_413_too():
    response = Client().post("/api/v1/auth/token", "{" + " " * BIG + "}", content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_form_post_over_the_limit_is_a_413_page():
    client = Client()
    response = client.post("/accounts/login/", {"username": "a@example.com", "password": "x" * BIG})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "Too much sent" in response.content.decode()


def test_a_multipart_form_whose_fields_are_over_the_limit_is_a_413_page():
    client = Client()
    client.force_login(UserFactory())
    response = client.post("/accounts/tokens/", {"name": "x" * BIG, "scopes": ["read"]})  # multipart
    assert response.status_code == 413
    assert "Too much sent" in response.content.decode()


def test_a_body_under_the_limit_is_read_as_usual():
    client = Client()
    client.force_login(UserFactory())
    response = client.post(
        "/api/v1/auth/tokens", {"name": "bot", "scopes": ["read"]}, content_type="application/json"
    )
    assert response.status_code == 201


def test_a_body_that_overflows_only_while_the_api_reads_it_is_413_too(rf):
    """No Content-Length to judge it by (a chunked body): Django raises while reading, and the API's
    handler answers it, never a 500."""
    from django.core.exceptions import RequestDataTooBig

    from config.api import api

    response = api.on_exception(rf.post("/api/v1/orders"), RequestDataTooBig("over"))

    assert response.status_code == 413
    assert json.loads(response.content)["error"]["code"] == "payload_too_large"
