"""The URLconf of the API tests (`@pytest.mark.urls("tests.api.testapi")`): the real API, alone, so
these tests do not hang on the rest of the site, and at /t/ a small API built with the project's
machinery the way a trading endpoint uses it."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest
from django.urls import path
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts.models import ApiToken
from config.api import api as real_api
from config.api import build_api
from config.api_auth import require_scope
from config.api_idempotency import idempotent
from config.api_pagination import Page, paginate
from config.errors import BruteError, get_owned_or_404

router = Router()
executions: list[dict[str, Any]] = []
_lock = threading.Lock()


class OrderIn(Schema):
    symbol: str
    qty: int
    slow: bool = False
    fail: bool = False


class OrderOut(Schema):
    seq: int
    symbol: str
    qty: int


class ItemOut(Schema):
    n: int


@router.post("/orders", response={201: OrderOut})
@require_scope("trade")
@idempotent
def order_create(request: HttpRequest, payload: OrderIn) -> Status[dict[str, Any]]:
    if payload.slow:
        time.sleep(0.5)
    if payload.fail:
        raise BruteError("The exchange said no.", code="conflict", status=409)
    with _lock:
        executions.append(payload.dict())
        seq = len(executions)
    return Status(201, {"seq": seq, "symbol": payload.symbol, "qty": payload.qty})


@router.post("/async-orders")
@require_scope("trade")
async def order_create_async(request: HttpRequest, payload: OrderIn) -> dict[str, Any]:
    return {"symbol": payload.symbol}


@router.get("/owned/{token_id}")
@require_scope("read")
def owned(request: HttpRequest, token_id: int) -> dict[str, Any]:
    token = get_owned_or_404(ApiToken.objects.all(), user=request.user, pk=token_id)
    return {"id": token.pk}


@router.get("/items", response=list[ItemOut])
@paginate(Page)
@require_scope("read")
def items(request: HttpRequest) -> list[dict[str, int]]:
    return [{"n": n} for n in range(7)]


@router.get("/raise/{kind}", auth=None)
def raise_(request: HttpRequest, kind: str) -> None:
    errors: dict[str, Exception] = {
        "brute": BruteError("Already done.", code="conflict", status=409),
        "django-validation": DjangoValidationError({"qty": ["Too small."], "__all__": ["Bad order."]}),
        "denied": PermissionDenied(),
        "http404": Http404("gone"),
        "http-error": HttpError(409, "Taken."),
        "boom": RuntimeError("unexpected"),
    }
    raise errors[kind]


api = build_api(title="Test API", urls_namespace="testapi")
api.add_router("/", router)

urlpatterns = [path("api/v1/", real_api.urls), path("t/", api.urls)]
