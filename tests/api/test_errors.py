"""Every error code, in the one shape."""

from __future__ import annotations

import pytest

from tests.api.conftest import access_for, assert_error, pat_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def test_validation_error_names_each_field(api, owner):
    response = api.post("/api/v1/auth/token", {"email": "x@example.com"}, content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [{"field": "password", "message": "Field required"}]


def test_a_malformed_body_is_a_bad_request(api, db):
    assert_error(api.post("/api/v1/auth/token", "{oops", content_type="application/json"), 400, "bad_request")


def test_not_authenticated(api, db):
    assert_error(api.get("/api/v1/me"), 401, "not_authenticated")


def test_not_found_for_an_unknown_api_path(api, db):
    assert_error(api.get("/api/v1/no/such/thing"), 404, "not_found")


def test_method_not_allowed_keeps_the_allow_header(api, db):
    response = api.delete("/api/v1/me")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("brute", 409, "conflict"),
        ("django-validation", 422, "validation_error"),
        ("denied", 403, "forbidden"),
        ("http404", 404, "not_found"),
        ("http-error", 409, "conflict"),
        ("boom", 500, "server_error"),
    ],
)
def test_raised_errors_map_to_codes(api, db, kind, status, code):
    assert_error(api.get(f"/t/raise/{kind}"), status, code)


def test_a_django_validation_error_lists_its_fields(api, db):
    error = assert_error(api.get("/t/raise/django-validation"), 422, "validation_error")
    assert {"field": "qty", "message": "Too small."} in error["details"]
    assert {"field": "", "message": "Bad order."} in error["details"]


def test_a_server_error_hides_its_cause(api, db):
    error = assert_error(api.get("/t/raise/boom"), 500, "server_error")
    assert "unexpected" not in error["message"].lower().replace("an unexpected error", "")


def test_forbidden(api, viewer):
    response = api.post(
        "/t/orders", {"symbol": "X", "qty": 1}, content_type="application/json", headers=access_for(viewer)
    )
    assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("path", ["/t/orders", "/t/async-orders"])
def test_the_scope_is_checked_before_the_body_is_read(api, owner, path):
    read, trade = pat_for(owner, "read"), access_for(owner)

    def post(body, headers):
        return api.post(path, body, content_type="application/json", headers=headers)

    assert_error(post({"qty": "many"}, read), 403, "forbidden")
    assert_error(post({"qty": "many"}, trade), 422, "validation_error")
    assert post({"symbol": "X", "qty": 1}, trade).status_code in (200, 201)


def test_the_openapi_schema_documents_the_error_shape(api, db):
    schema = api.get("/api/v1/openapi.json").json()
    assert "ErrorOut" in schema["components"]["schemas"]
    me = schema["paths"]["/api/v1/me"]["get"]
    assert me["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "Retry-After" in me["responses"]["429"]["headers"]
    assert me["x-required-scope"] == "read"


def test_the_docs_page_is_served(api, db):
    assert api.get("/api/v1/docs").status_code == 200
