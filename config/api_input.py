"""The API's parser: every JSON body and query string passes the project's input limits.

Behaviour, documented in the API description:
- A JSON body over 64 KiB or nested deeper than 20 levels answers 400 `bad_request`.
- A text value (body or query) holding NUL or another control character answers 422
  `validation_error` naming the field.
- A query parameter given more than once answers 422 `validation_error`, unless the parameter
  is a list; unknown query parameters are ignored.
- An empty body is no body (whitespace, or a form post without a field, counts as empty): an
  optional body left out reads as its defaults, a required one answers 422 naming what it lacks.
- A JSON body field the endpoint does not take answers 422 `validation_error` naming it: every body
  schema derives from `InputSchema`, so a typo (`quantitty`) is never silently dropped.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja import Schema
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
