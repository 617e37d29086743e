"""The API's parser: every JSON body and query string passes the project's input limits.

Behaviour, documented in the API description:
- A JSON body over 64 KiB or nested deeper than 20 levels answers 400 `bad_request`.
- A text value (body or query) holding NUL or another control character answers 422
  `validation_error` naming the field.
- A query parameter given more than once answers 422 `validation_error`, unless the parameter
  is a list.
- A query parameter the endpoint does not declare (its own, and its pagination's `limit` and
  `offset`) answers 422 `validation_error` naming each one, on every endpoint: a misspelt `symbl=`
  or a `cursor=` the API does not have never reads as "no filter" (`query_check`).
- An empty body is no body (whitespace, or a form post without a field, counts as empty): an
  optional body left out reads as its defaults, a required one answers 422 naming what it lacks.
- A JSON body field the endpoint does not take answers 422 `validation_error` naming it: every body
  schema derives from `InputSchema`, so a typo (`quantitty`) is never silently dropped.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, cast

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja import Schema
from ninja.operation import Operation
from ninja.params.models import QueryModel
from ninja.parser import Parser
from pydantic import ConfigDict

from config.errors import BruteError, ErrorDetail, InvalidInput
from config.input_limits import (
    InputRefused,
    control_character_problem,
    find_control_characters,
    json_loads_bounded,
)


class InputSchema(Schema):
    """The base of every request body schema: a field it does not declare is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


def _empty_form(request: HttpRequest) -> bool:
    """A form post without a field: what many clients send for a POST "without a body" (a multipart
    body is never empty, it holds its closing boundary). It reads as `{}`, an optional body's "none"."""
    if request.content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return False
    return not request.POST and not request.FILES


class StrictParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        if not request.body.strip() or _empty_form(request):
            return {}
        # ninja turns any exception here into a 400 whose cause the error handler unwraps.
        try:
            data = json_loads_bounded(request.body)
        except InputRefused as exc:
            raise BruteError(exc.message) from None
        refused = find_control_characters(data)
        if refused is not None:
            raise InvalidInput(
                refused.message, details=[ErrorDetail(field=refused.field, message=refused.message)]
            )
        return cast(dict[str, Any], data)

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            for text in [key, *values]:
                problem = isinstance(text, str) and control_character_problem(text)
                if problem:
                    raise InvalidInput(problem, details=[ErrorDetail(field=key, message=problem)])
            if len(values) > 1 and key not in list_fields:
                message = f"{key} may be given only once."
                raise InvalidInput(message, details=[ErrorDetail(field=key, message=message)])
        return super().parse_querydict(data, list_fields, request)


def query_names(operation: Operation) -> tuple[str, ...]:
    """The query parameters `operation` declares, as the client writes them (aliases, and a schema's
    fields flattened, e.g. the pagination's `limit` and `offset`), in declaration order."""
    names: dict[str, None] = {}
    for model in operation.models:
        if not issubclass(model, QueryModel):
            continue
        flattened = getattr(model, "__ninja_flatten_map__", None)
        if flattened:
            names.update(dict.fromkeys(flattened))
        else:
            names.update(dict.fromkeys(f.alias or n for n, f in model.model_fields.items()))
    return tuple(names)


def name_query_parameters(run: Callable[..., Any]) -> Callable[..., Any]:
    """A run decorator every BruteAPI operation gets (ninja's "view" mode): names the operation's
    declared query parameters on the request before ninja runs its checks, so `query_check` can
    refuse the others where the input is read (after credentials, rate limits and scope)."""
    operation = getattr(inspect.unwrap(run), "__self__", None)
    if not isinstance(operation, Operation):
        raise TypeError(f"{run!r} is not an operation's run")
    return marking(run, "brute_query_names", query_names(operation))


def marking(run: Callable[..., Any], name: str, value: object) -> Callable[..., Any]:
    """`run` (an operation's run, sync or async as it is) setting `request.<name> = value` first: how
    a decorator hands ninja's later checks what only it knows (the scope, the declared parameters)."""
    if inspect.iscoroutinefunction(run):

        @functools.wraps(run)
        async def run_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            setattr(request, name, value)
            return await run(request, *args, **kwargs)

        return run_async

    @functools.wraps(run)
    def run_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        setattr(request, name, value)
        return run(request, *args, **kwargs)

    return run_sync


def query_check(request: HttpRequest) -> None:
    """422 `validation_error` naming each query parameter the endpoint does not declare."""
    declared = getattr(request, "brute_query_names", None)
    if declared is None:
        return
    unknown = [name for name in request.GET if name not in declared]
    if not unknown:
        return
    takes = f"it takes {', '.join(declared)}" if declared else "it takes none"
    words = ", ".join(unknown)
    plural = "s" if len(unknown) > 1 else ""
    message = f"Unknown query parameter{plural} {words}: this endpoint does not take {words}; {takes}."
    details = [
        ErrorDetail(field=name, message=f"{name} is not a query parameter of this endpoint; {takes}.")
        for name in unknown
    ]
    raise InvalidInput(message, details=details)
