"""The API's one error shape, the handlers that produce it, and its place in the OpenAPI schema.

Every failure answers `{"error": {"code", "message", "details": [{"field", "message"}]}}` with a
stable `code`; clients branch on the code, never on the message. A detail's `field` is the field
as the client sent it (`quantity`, `scopes.0`, a query parameter); "" is the body as a whole.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from config.body_limit import too_large_message
from config.degraded import degraded_response, unavailable_cause
from config.errors import ERROR_CODES, BruteError, ErrorDetail

logger = logging.getLogger("brute.api")

# The docs list every code of the one registry (config/errors.py).
CODES = ERROR_CODES

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorDetailOut(Schema):
    field: str
    message: str


class ErrorBodyOut(Schema):
    code: str = Field(
        ..., description="Stable and machine-readable: " + "; ".join(f"`{c}`: {t}" for c, t in CODES.items())
    )
    message: str
    details: list[ErrorDetailOut] = []


class ErrorOut(Schema):
    error: ErrorBodyOut


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    details: Iterable[ErrorDetail] = (),
) -> HttpResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": d.field, "message": d.message} for d in details],
        }
    }
    response = api.create_response(request, body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="brute"'
    return response


# pydantic's words for a body that is missing or not an object, said as the client would.
_WHOLE_BODY = {
    "missing": "A JSON body is required.",
    "model_attributes_type": "The body must be a JSON object.",
    "model_type": "The body must be a JSON object.",
}


def _ninja_details(errors: Sequence[dict[str, Any]]) -> list[ErrorDetail]:
    details = []
    for err in errors:
        # loc is (source, field...), the field as the client sent it (BruteAPI drops the name of a
        # body parameter); the empty field is the body (or the query) as a whole.
        field = ".".join(str(part) for part in err.get("loc", ())[1:])
        message = str(err.get("msg", "Invalid value."))
        if not field:
            message = _WHOLE_BODY.get(str(err.get("type")), message)
        details.append(ErrorDetail(field=field, message=message))
    return details


def _django_details(exc: DjangoValidationError) -> list[ErrorDetail]:
    if hasattr(exc, "error_dict"):
        return [
            ErrorDetail(field="" if field == "__all__" else field, message=message)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [ErrorDetail(field="", message=message) for message in exc.messages]


def install_error_handlers(api: NinjaAPI) -> None:  # noqa: C901  (ten one-branch handlers, nested)
    """Replaces ninja's default handlers so every failure has the one shape."""

    def on_brute(request: HttpRequest, exc: BruteError) -> HttpResponse:
        response = error_response(
            api, request, status=exc.status, code=exc.code, message=exc.message, details=exc.details
        )
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response["Retry-After"] = str(int(retry_after))
        return response

    def on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        details = _ninja_details(exc.errors)
        message = "The input is invalid." if details else "The request body is invalid."
        return error_response(
            api, request, status=422, code="validation_error", message=message, details=details
        )

    def on_django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        details = _django_details(exc)
        message = details[0].message if len(details) == 1 else "The input is invalid."
        return error_response(
            api, request, status=422, code="validation_error", message=message, details=details
        )

    def on_authentication(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            api, request, status=401, code="not_authenticated", message="Authentication is required."
        )

    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        # ninja's throttle check sets Retry-After again on what this returns; a Throttled raised
        # elsewhere (a failed bearer token over its IP's limit, config/api_auth.py) relies on this one.
        message = "Too many requests. Retry after the number of seconds in Retry-After."
        response = error_response(api, request, status=429, code="rate_limited", message=message)
        if exc.wait is not None:
            response["Retry-After"] = str(math.ceil(exc.wait))
        return response

    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if isinstance(exc.__cause__, BruteError):  # the body parser's own refusal, wrapped by ninja
            return on_brute(request, exc.__cause__)
        code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "server_error")
        return error_response(api, request, status=exc.status_code, code=code, message=str(exc))

    def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, status=404, code="not_found", message="Not found.")

    def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        message = str(exc) or "You do not have permission to do this."
        return error_response(api, request, status=403, code="forbidden", message=message)

    def on_unreadable(request: HttpRequest, exc: Exception) -> HttpResponse:
        return error_response(
            api, request, status=400, code="bad_request", message="The request body is unreadable."
        )

    def on_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        # A body that overflows only while read (no Content-Length, multipart fields): config/body_limit.py
        # answers the declared ones before this.
        return error_response(api, request, status=413, code="payload_too_large", message=too_large_message())

    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        if (cause := unavailable_cause(exc)) is not None:  # Redis, the broker or the database is down
            return degraded_response(request, cause)
        logger.exception("Unhandled error in %s %s", request.method, request.path, exc_info=exc)
        return error_response(
            api, request, status=500, code="server_error", message="An unexpected error occurred."
        )

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (BruteError, on_brute),
        (NinjaValidationError, on_validation),
        (DjangoValidationError, on_django_validation),
        (AuthenticationError, on_authentication),
        (Throttled, on_throttled),
        (HttpError, on_http_error),
        (Http404, on_404),
        (PermissionDenied, on_permission_denied),
        (MultiPartParserError, on_unreadable),
        (UnreadablePostError, on_unreadable),
        (RequestDataTooBig, on_too_large),
        (Exception, on_unexpected),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the error shape to every operation of an OpenAPI schema, as 4XX/5XX and a 429 with
    Retry-After, unless the operation documents that status itself."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_error_components())
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    standard = {
        "429": {
            "description": "Rate limited (`rate_limited`) or locked out (`locked_out`).",
            "headers": {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 0}}
            },
            "content": ref,
        },
        "4XX": {"description": "A client error; `error.code` says which.", "content": ref},
        "5XX": {"description": "A server error (`server_error`).", "content": ref},
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status, response in standard.items():
                responses.setdefault(status, response)
    return schema


def _error_components() -> dict[str, Any]:
    schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "ErrorOut": schema}
