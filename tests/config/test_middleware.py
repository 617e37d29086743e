"""Brute's own middleware (config/middleware.py): the same work on the sync and the async path."""

from __future__ import annotations

import asyncio

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from config.logging import RequestIdMiddleware, request_id_var


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request_id_var.get())


async def _async_view(request: HttpRequest) -> HttpResponse:
    return _view(request)


def test_the_request_id_is_kept_and_echoed_on_the_sync_path():
    middleware = RequestIdMiddleware(_view)
    assert not iscoroutinefunction(middleware)
    response = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="abc-123"))
    assert isinstance(response, HttpResponse)
    assert response["X-Request-ID"] == "abc-123"
    assert response.content == b"abc-123"


def test_the_request_id_is_made_and_echoed_on_the_async_path():
    middleware = RequestIdMiddleware(_async_view)
    assert iscoroutinefunction(middleware)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="bad id with spaces")
    response = asyncio.run(middleware(request))  # type: ignore[arg-type]
    rid = response["X-Request-ID"]
    assert rid != "bad id with spaces"
    assert len(rid) == 32
    assert response.content == rid.encode()
    assert request.META["BRUTE_REQUEST_ID"] == rid
