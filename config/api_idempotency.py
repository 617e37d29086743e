"""Opt-in Idempotency-Key handling for endpoints that change state (placing an order).

    @router.post("/orders", response={201: OrderOut})
    @idempotent
    @require_scope("trade")
    def order_create(request, payload: OrderIn): ...

A request carrying `Idempotency-Key` claims the key (per user) by inserting a row before the
endpoint runs; the unique constraint decides which of two concurrent duplicates executes. Then:
- same key, same method+path+body, finished  -> the stored response, with `Idempotent-Replayed: true`;
- same key, same request, still running      -> 409 `conflict`;
- same key, different request                -> 422 `idempotency_key_reused`.
Only responses below 500 are stored; if the endpoint raises, the key is released so a retry runs.
Keys expire after API_IDEMPOTENCY_TTL seconds (default a day). Without the header nothing changes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from ninja.decorators import decorate_view
from ninja.params.functions import Header
from ninja.utils import contribute_operation_args

from accounts.models import IdempotencyKey
from config.api_auth import keep_signature, request_principal
from config.errors import BruteError, Conflict

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
_CLAIM = "_brute_idempotency_claim"


class IdempotencyKeyReused(BruteError):
    code = "idempotency_key_reused"
    status = 422


class IdempotentReplay(Exception):
    """Raised to answer with a stored response; the API's handler turns it into that response."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.record = record


def replay_response(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body),
        status=record.status_code or 200,
        content_type=record.content_type or None,
    )
    response["Idempotent-Replayed"] = "true"
    return response


def request_fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def idempotency_claim(*, request: HttpRequest, key: str) -> IdempotencyKey:
    """Claims `key` for this request, or raises: a replay, a conflict or a reuse."""
    user = request_principal(request).user
    fingerprint = request_fingerprint(request)
    ttl = timedelta(seconds=settings.API_IDEMPOTENCY_TTL)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:  # released by a failed first attempt in between: try again
            continue
        if existing.created_at < timezone.now() - ttl:
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(f"This {HEADER} was already used for a different request.")
        if existing.status_code is None:
            raise Conflict(f"A request with this {HEADER} is still being processed; retry shortly.")
        raise IdempotentReplay(existing)
    raise Conflict(f"The {HEADER} is contended; retry shortly.")


def _release(request: HttpRequest) -> None:
    record = getattr(request, _CLAIM, None)
    if record is not None:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        setattr(request, _CLAIM, None)


def _store(request: HttpRequest, response: HttpResponseBase) -> None:
    record: IdempotencyKey | None = getattr(request, _CLAIM, None)
    if record is None:
        return
    if response.status_code >= 500 or not isinstance(response, HttpResponse):
        _release(request)
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status_code=response.status_code,
        content_type=response.get("Content-Type", ""),
        response_body=response.content,
    )
    setattr(request, _CLAIM, None)


def _storing_run(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            response = run(request, *args, **kwargs)
        except BaseException:
            _release(request)
            raise
        _store(request, response)
        return response

    return wrapper


def idempotent(func: F) -> F:
    """Endpoint decorator (below the route decorator, above `require_scope`): honours an
    `Idempotency-Key` header. Sync endpoints only; the endpoint must be authenticated."""

    @functools.wraps(func)
    def wrapper(request: HttpRequest, *args: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
        if not idempotency_key:
            return func(request, *args, **kwargs)
        setattr(request, _CLAIM, idempotency_claim(request=request, key=idempotency_key))
        try:
            return func(request, *args, **kwargs)
        except BaseException:
            _release(request)
            raise

    keep_signature(wrapper, func)
    contribute_operation_args(
        wrapper,
        "idempotency_key",
        cast(type, str | None),
        Header(
            None,
            alias=HEADER,
            min_length=1,
            max_length=255,
            description="Makes a retry of this request return the first response instead of acting twice.",
        ),
    )
    decorate_view(_storing_run)(wrapper)
    return cast(F, wrapper)


def idempotency_keys_prune() -> int:
    """Deletes keys older than API_IDEMPOTENCY_TTL; past it a key may be reused anyway."""
    cutoff = timezone.now() - timedelta(seconds=int(settings.API_IDEMPOTENCY_TTL))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
