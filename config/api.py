"""The one NinjaAPI. Each app adds its Router here.

The machinery every endpoint shares lives beside it: config/api_auth.py (who is calling, scopes),
config/api_errors.py (the one error shape), config/api_pagination.py, config/api_throttling.py
and config/api_idempotency.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError
from ninja.errors import ValidationErrorContext

from accounts.api import router as accounts_router
from config.api_auth import API_AUTH, scope_check
from config.api_errors import document_errors, error_response, install_error_handlers
from config.api_idempotency import IdempotentReplay, replay_response
from config.api_input import StrictParser, name_query_parameters, query_check
from config.api_throttling import default_throttles


class BruteAPI(NinjaAPI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Every operation of every router names its declared query parameters on the request, so
        # create_temporal_response refuses any other (the OpenAPI and docs pages are not operations).
        self.add_decorator(name_query_parameters, mode="view")

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        return document_errors(super().get_openapi_schema(**kwargs))

    def create_temporal_response(self, request: HttpRequest) -> HttpResponse:
        # ninja's Operation.run (sync and async) calls this right after its checks (authentication,
        # then the rate limits) and right before it reads the input: the one point where a scope
        # refusal has been counted like any request and still comes before a 422 about the body.
        # Raised here, inside run's try, it becomes the usual 403 through the error handlers. A
        # query parameter the endpoint does not declare is the first input refused (422).
        scope_check(request)
        query_check(request)
        return super().create_temporal_response(request)

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> NinjaValidationError:
        """ninja's errors, each located as the client wrote it: a body read whole into one schema
        parameter drops that parameter's name (`payload.quantity` is `quantity`, and `payload` alone,
        the body as a whole, is the empty location)."""
        errors: list[dict[str, Any]] = []
        for context in error_contexts:
            found = super().validation_error_from_error_contexts([context]).errors
            if getattr(context.model, "__read_from_single_attr__", None):
                for error in found:
                    error["loc"] = error["loc"][:1] + error["loc"][2:]
            errors.extend(found)
        return NinjaValidationError(errors)

    @property
    def urls(self) -> Any:
        """ninja's URLs, answering an unknown path or method in the one error shape too."""
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = self._json_not_allowed(pattern.callback)
        patterns.append(path("<path:rest>", self._not_found, name="not-found"))
        return patterns, app_name, namespace

    def _not_found(self, request: HttpRequest, rest: str) -> HttpResponse:
        return error_response(self, request, status=404, code="not_found", message="No such API endpoint.")

    def _json_not_allowed(self, view: Callable[..., Any]) -> Callable[..., Any]:
        def convert(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
            if not isinstance(response, HttpResponseNotAllowed):
                return response
            converted = error_response(
                self,
                request,
                status=405,
                code="method_not_allowed",
                message=f"{request.method} is not allowed here.",
            )
            converted["Allow"] = response["Allow"]
            return converted

        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                return convert(request, await view(request, *args, **kwargs))

            return async_wrapper

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return convert(request, view(request, *args, **kwargs))

        return wrapper


def _on_replay(request: HttpRequest, exc: Any) -> HttpResponse:
    return replay_response(exc.record)


def build_api(**kwargs: Any) -> BruteAPI:
    """A NinjaAPI with the project's auth, rate limits and error handlers (tests build their own)."""
    options: dict[str, Any] = {
        "auth": API_AUTH,
        "throttle": default_throttles(),
        "parser": StrictParser(),
        "version": "1",
        **kwargs,
    }
    built = BruteAPI(**options)
    install_error_handlers(built)

    built.add_exception_handler(IdempotentReplay, _on_replay)
    return built


api = build_api(
    title="Brute API",
    urls_namespace="api",
    description=(
        "Authenticate with `Authorization: Bearer <access token>` from `POST /auth/token`, with "
        "`Authorization: Bearer brute_pat_...` (a personal API token), or with the browser session. "
        'Every error has the shape `{"error": {"code", "message", "details"}}`. '
        "Inputs: a JSON body over 64 KiB or nested deeper than 20 levels answers 400; text holding "
        "NUL or another control character answers 422; an empty body is no body (an optional one "
        "reads as left out); a body field the endpoint does not take "
        "answers 422 naming it; a query parameter given twice answers 422 unless it is a list; "
        "a query parameter the endpoint does not take (its own and, on a list, `limit` and `offset`) "
        "answers 422 naming it, never ignored. "
        "Checks run in this order: credentials, rate limits, scope, input. "
        "Statuses: 401 no valid credentials; 403 the caller may not (checked after the rate limits, "
        "so a refusal counts against them, and before the body is read, so a read token gets 403 "
        "whatever it sends); 404 no such object (someone else's looks the "
        "same); 422 a value is refused, by its form (`validation_error`) or by a trading rule "
        "(`too_many_decimals`, `below_min_quantity`, `below_min_notional`, `above_max_notional`, "
        "`price_out_of_range`), whichever check found it; 400 a body that cannot be read, or a "
        "refusal of the moment (`symbol_not_trading`, `insufficient_balance`, ...); 409 a conflict; "
        "429 rate limited (every authenticated request counts, refused or not; Retry-After); "
        "503 a dependency is down."
    ),
)
api.add_router("/", accounts_router)
api.add_router("/", "trading.api.router")
