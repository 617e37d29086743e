"""Who is calling the API and what they may do.

Three ways in, tried in order: `Authorization: Bearer <JWT access token>`, `Authorization: Bearer
brute_pat_...` (a personal API token), and the browser's session cookie (with CSRF on unsafe
methods). Each yields a `Principal` on `request.auth`; `request.user` is the same user.

Endpoints declare what they need with `@require_scope("read")` or `@require_scope("trade")`. The
checks run in the order GitHub's and Stripe's APIs use: who is calling (401), then the rate limits
(429, config/api_throttling.py), then the scope (403, `scope_check`), then the input (422): a
refusal spends the caller's budget like any other request, so a read token cannot hammer a write
endpoint for free. A bearer token that fails authentication spends its client IP's budget.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest
from ninja.decorators import decorate_view
from ninja.errors import Throttled
from ninja.security import HttpBearer, SessionAuth
from ninja.signature.utils import get_typed_signature
from ninja.utils import contribute_operation_callback

from accounts.models import ApiScope, ApiToken, User
from accounts.tokens import ALL_SCOPES, NotAuthenticated, access_token_user, api_token_authenticate
from config.api_input import marking
from config.api_throttling import IpRateThrottle
from config.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["session", "access", "pat"]


@dataclass(frozen=True)
class Principal:
    user: User
    kind: Kind
    scopes: frozenset[str]
    token_id: int | None = None

    def __str__(self) -> str:
        # Rate limits key on this: one bucket per personal token, one per user otherwise.
        return f"pat:{self.token_id}" if self.kind == "pat" else f"user:{self.user.pk}"

    def allows(self, scope: str) -> bool:
        """`trade` needs the trade scope and a role that may trade; `trade` implies `read`."""
        if scope == ApiScope.TRADE:
            return ApiScope.TRADE in self.scopes and self.user.can_trade
        return scope in self.scopes or ApiScope.TRADE in self.scopes


logger = logging.getLogger("brute.api")

# RFC 7235 credentials: a token68-ish scheme (case-insensitive), one or more spaces, the rest.
_CREDENTIALS = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$", re.DOTALL)


def authorization_parse(value: str) -> tuple[str, str]:
    """(scheme in lower case, credentials) of an Authorization header, per RFC 7235: the scheme is
    case-insensitive and 1+ spaces part it from its credentials. ("", "") when it has no scheme."""
    found = _CREDENTIALS.match(value.strip())
    if found is None:
        return "", ""
    return found.group(1).lower(), (found.group(2) or "").strip()


class BearerAuth(HttpBearer):
    """`Authorization: Bearer <token>`. Any other scheme (Basic, Token, ...) is not ours: it is
    logged by its scheme only (ninja's own HttpBearer logs the whole header, the credentials, at
    ERROR when DEBUG is on) and left to the session, so without one the request answers 401 with
    the Bearer challenge; a browser behind a proxy's Basic auth keeps its session."""

    def __call__(self, request: HttpRequest) -> Principal | None:
        value = request.headers.get(self.header)
        if not value:
            return None
        scheme, token = authorization_parse(value)
        if scheme != self.openapi_scheme:
            shown = scheme[:20] if scheme else "(none)"
            logger.info(
                "Authorization header with the scheme %r ignored (not Bearer): %s", shown, request.path
            )
            return None
        if not token:
            raise NotAuthenticated("The Authorization header has no token.")
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> Principal:
        try:
            principal = _bearer_principal(token)
        except NotAuthenticated:
            _failure_count(request)
            raise
        request.user = principal.user
        return principal


def _bearer_principal(token: str) -> Principal:
    if token.startswith(ApiToken.PREFIX):
        pat = api_token_authenticate(secret=token)
        return Principal(pat.user, "pat", frozenset(pat.scope_list), pat.pk)
    user, scopes = access_token_user(token=token)
    return Principal(user, "access", frozenset(scopes))


_IP_LIMIT = IpRateThrottle()


def _failure_count(request: HttpRequest) -> None:
    """A bearer token that fails spends its client IP's budget like any request (ninja answers 401
    before it runs the throttles, so nothing else counts a stream of bad tokens); 429 once over."""
    if not _IP_LIMIT.allow_request(request):
        wait = _IP_LIMIT.wait()
        raise Throttled(wait=None if wait is None else math.ceil(wait))


class BrowserSessionAuth(SessionAuth):
    """ninja's SessionAuth, but a request with no session cookie is simply not authenticated
    (rather than failing CSRF), so a bare POST gets 401 and not 403."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        user = request.user
        if key is None or not user.is_authenticated or not user.is_active:
            return None
        return Principal(user, "session", frozenset(ALL_SCOPES))


API_AUTH = [BearerAuth(), BrowserSessionAuth()]


def request_principal(request: HttpRequest) -> Principal:
    principal = getattr(request, "auth", None)
    if not isinstance(principal, Principal):
        raise NotAuthenticated("Authentication is required.")
    return principal


def principal_require(request: HttpRequest, scope: str) -> Principal:
    """The caller's Principal, or 401/403 `forbidden` if it may not act with `scope`."""
    return _holding(request_principal(request), scope)


def scope_check(request: HttpRequest) -> None:
    """401/403 `forbidden` unless the caller holds the scope its endpoint names (`require_scope`);
    nothing for an endpoint that names none. BruteAPI calls it once ninja has authenticated and
    counted the request against the rate limits, before it reads the input."""
    scope = getattr(request, "brute_scope", None)
    if scope is not None:
        principal_require(request, scope)


def _holding(principal: Principal, scope: str) -> Principal:
    if principal.allows(scope):
        return principal
    if scope == ApiScope.TRADE and ApiScope.TRADE in principal.scopes:
        raise Forbidden("Your role does not allow trading.")
    raise Forbidden(f"This requires the {scope!r} scope.")


def require_scope(scope: str) -> Callable[[F], F]:
    """Endpoint decorator (below the route decorator): the caller must hold `scope`."""
    if scope not in ALL_SCOPES:
        raise ValueError(f"Unknown scope {scope!r}")

    def decorator(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                principal_require(request, scope)
                return await func(request, *args, **kwargs)

            wrapper: Callable[..., Any] = async_wrapper
        else:

            @functools.wraps(func)
            def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                principal_require(request, scope)
                return func(request, *args, **kwargs)

            wrapper = sync_wrapper
        keep_signature(wrapper, func)
        contribute_operation_callback(wrapper, functools.partial(_document_scope, scope))
        decorate_view(_scope_on_request(scope))(wrapper)
        return cast(F, wrapper)

    return decorator


def _scope_on_request(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A run decorator (ninja's `decorate_view`, kept when an operation is cloned): names the
    endpoint's scope on the request before ninja runs its checks, so `scope_check` can refuse a
    principal without it after the rate limits and before ninja reads the input: a read token's
    refusal counts against its limit, and it gets its 403 before any 422 about a body it may not
    send."""

    def decorator(run: Callable[..., Any]) -> Callable[..., Any]:
        return marking(run, "brute_scope", scope)

    return decorator


def keep_signature(wrapper: Callable[..., Any], func: Callable[..., Any]) -> None:
    """Gives an endpoint decorator's wrapper the endpoint's signature with its annotations resolved:
    ninja resolves string annotations (`from __future__ import annotations`) in the globals of the
    function it is given, which for a wrapper are the decorator's module."""
    wrapper.__signature__ = get_typed_signature(func)  # type: ignore[attr-defined]


def require_interactive(request: HttpRequest) -> Principal:
    """A login (session or password-issued JWT), not a personal token: a token must not mint or
    revoke tokens, or a read token could make itself a trade token."""
    principal = request_principal(request)
    if principal.kind == "pat":
        raise Forbidden("Personal API tokens cannot manage API tokens; sign in instead.")
    return principal


def _document_scope(scope: str, operation: Any) -> None:
    extra = dict(operation.openapi_extra or {})
    extra["x-required-scope"] = scope
    note = f"Requires the `{scope}` scope" + (" and a role that may trade." if scope == "trade" else ".")
    operation.description = f"{operation.description}\n\n{note}" if operation.description else note
    operation.openapi_extra = extra
