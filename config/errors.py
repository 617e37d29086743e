"""The one project error type. Services raise it; each interface maps it to its own form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)

# Every code the API can answer, and what it means: the one registry. The OpenAPI docs' code list
# is generated from it (config/api_errors.py), and tests/config/test_error_codes.py fails when code
# anywhere raises a code missing here, so the list cannot drift from what the API says.
ERROR_CODES: dict[str, str] = {
    # the request itself
    "validation_error": "The input did not validate; `details` names each field.",
    "bad_request": "The request could not be understood (e.g. a malformed JSON body).",
    "not_authenticated": "No credentials, or credentials that are invalid, expired or revoked.",
    "forbidden": "Authenticated, but the role or the token's scopes do not allow this.",
    "not_found": "No such object, or one that belongs to someone else.",
    "method_not_allowed": "The path exists but not with this method.",
    "conflict": "The request conflicts with the current state (or a duplicate is in flight).",
    "idempotency_key_reused": "The Idempotency-Key was already used with a different request (422).",
    "client_order_id_reused": "The client_order_id belongs to an order with other parameters.",
    "rate_limited": "Too many requests; retry after the Retry-After header's seconds.",
    "locked_out": "Too many failed logins; retry after the Retry-After header's seconds.",
    "payload_too_large": "The request body is over the size limit (413); nothing was read.",
    "server_error": "An unexpected failure on the server; it has been logged.",
    "service_unavailable": "A shared dependency (Redis, the database) is down; retry after Retry-After.",
    # an order's value, refused by a trading rule (422, VALUE_ERROR_CODES)
    "too_many_decimals": "An amount or price has more decimal places than the symbol allows.",
    "below_min_quantity": "The quantity is below the symbol's minimum.",
    "below_min_notional": "The order's value is below the symbol's minimum.",
    "above_max_notional": "The order's value is above the symbol's maximum.",
    "price_out_of_range": "The price is outside the band the exchange accepts now.",
    # an order refused for the moment, or by the account
    "unknown_symbol": "No such MEXC spot symbol.",
    "symbol_not_trading": "The symbol is not trading on MEXC right now.",
    "api_trading_disabled": "MEXC does not allow API trading of this symbol.",
    "order_type_not_allowed": "MEXC does not accept this order type on this symbol.",
    "side_not_allowed": "MEXC accepts only one side (buy or sell) on this symbol for now.",
    "insufficient_balance": "Not enough of the asset to pay for the order.",
    "risk_limit": "The order breaks one of the user's risk limits (403).",
    "viewer_cannot_trade": "The user's role is viewer: watching, not trading.",
    "order_rejected": "The exchange refused the order; the message says why.",
    "exchange_unavailable": "The exchange could not be reached; retry later.",
    "live_requires_keys": "Live trading needs the user's MEXC API keys first.",
    "invalid_api_key": "MEXC refused the API keys.",
    "live_disabled_on_simulated_market": "Live trading is off while the market data is simulated.",
    # a sniper position's exit
    "no_liquidity": "No bid in the book to sell into.",
    "exit_refused": "The position's exit could not be placed; the message says why.",
}

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

    Every code is one of ERROR_CODES (the registry the API docs list).
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
