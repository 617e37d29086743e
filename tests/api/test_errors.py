"""Every error code, in the one shape."""

from __future__ import annotations

import pytest

from tests.api.conftest import access_for, assert_error, pat_for

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.testapi")]


def test_validation_error_names_each_field(api, owner):
    response = api.post("/api/v1/auth/token", {"email": "x@example.com"}, content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [{"field": "password", "message": "Field required"}]


def post(api, path, body, headers=None):
    return api.post(path, body, content_type="application/json", headers=headers or {})


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/orders",
            {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "quantity": "x"},
            "quantity",
        ),
        ("/api/v1/orders", {"side": "BUY", "type": "MARKET", "quantity": "1"}, "symbol"),
        ("/api/v1/auth/tokens", {"name": "bot", "scopes": ["admin"]}, "scopes.0"),
        ("/api/v1/auth/tokens", {"name": "bot", "scopes": ["read"], "expires_at": "soon"}, "expires_at"),
    ],
)
def test_a_field_is_named_as_the_client_sent_it_without_the_body_parameters_name(
    api, owner, path, body, field
):
    error = assert_error(post(api, path, body, access_for(owner)), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [field]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "A JSON body is required."),
        ("[]", "The body must be a JSON object."),
        ("1", "The body must be a JSON object."),
        ('"SOLUSDT"', "The body must be a JSON object."),
    ],
    ids=["empty", "list", "number", "string"],
)
@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/auth/token", "/api/v1/auth/tokens"])
def test_an_error_with_the_body_as_a_whole_has_the_empty_field(api, owner, path, body, message):
    error = assert_error(post(api, path, body, access_for(owner)), 422, "validation_error")
    assert error["details"] == [{"field": "", "message": message}]


def test_no_error_detail_names_a_body_parameter(api, owner):
    bodies = ["", "[]", "{}", '{"symbol": 1, "side": [], "type": {}, "price": null, "x": 1}']
    for body in bodies:
        error = assert_error(post(api, "/api/v1/orders", body, access_for(owner)), 422, "validation_error")
        fields = [d["field"] for d in error["details"]]
        assert fields
        assert not [f for f in fields if f.split(".")[0] in ("payload", "body")], (body, fields)


def test_a_query_parameter_is_named_by_itself(api, owner):
    error = assert_error(
        api.get("/api/v1/orders?side=UP", headers=access_for(owner)), 422, "validation_error"
    )
    assert [d["field"] for d in error["details"]] == ["side"]


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
