"""The one project error type. Services raise it; each interface maps it to its own form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)

# The API's one rule for a refused value (README "API errors"): a value in the request that breaks a
# rule, the API's own (the form of an amount, a zero amount, the order's shape) or the symbol's
# (decimal places, minimums, maximums), answers 422 with that rule's code, whichever check found it
# (the service before placing, the paper exchange or MEXC after). 400 is left to a request that cannot
# be read and to refusals of the moment (a symbol not trading, a short balance).
VALUE_ERROR_CODES = frozenset(
    {
        "validation_error",
        "too_many_decimals",
        "below_min_quantity",
        "below_min_notional",
        "above_max_notional",
        "price_out_of_range",
    }
)


@dataclass(frozen=True)
class ErrorDetail:
    """One problem with one input field (or with the request as a whole when `field` is empty)."""

    field: str
    message: str


class BruteError(Exception):
    """A failure a caller can act on: a stable machine-readable `code`, a human `message` and the
    HTTP status the API answers with. Domain code raises it (or a subclass); it never builds responses.

    Codes in use: validation_error, bad_request, not_authenticated, forbidden, not_found,
    method_not_allowed, conflict, idempotency_key_reused, client_order_id_reused, rate_limited,
    server_error, and the trading rules' own (unknown_symbol, too_many_decimals, risk_limit, ...).
    A code of VALUE_ERROR_CODES always has the status 422, whatever `status` says.
    """

    code: str = "bad_request"
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if self.code in VALUE_ERROR_CODES:
            self.status = 422
        self.details = list(details)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.status})"


def refuse(code: str, message: str, status: int = 400) -> BruteError:
    """The one way services word a refusal: `code` for machines, `message` for people, `status` for
    the API (422 for a value error whatever is passed: VALUE_ERROR_CODES)."""
    return BruteError(message, code=code, status=status)


class NotFound(BruteError, Http404):
    """The one "not found": the API answers 404 `not_found`, a page Django's 404 (it is an Http404)."""

    code = "not_found"
    status = 404


class Forbidden(BruteError):
    code = "forbidden"
    status = 403


class Conflict(BruteError):
    code = "conflict"
    status = 409


class InvalidInput(BruteError):
    code = "validation_error"
    status = 422


def get_owned_or_404(queryset: QuerySet[M], *, user: Any, owner_field: str = "user", **lookup: Any) -> M:
    """The one object matching `lookup` that `user` owns, else NotFound: someone else's object
    looks exactly like a missing one (404, never 403). Every selector of an owned object uses it."""
    obj = queryset.filter(**{owner_field: user}, **lookup).first()
    if obj is None:
        raise NotFound(f"No such {queryset.model._meta.verbose_name}.")
    return obj
