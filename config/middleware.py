"""The shapes of Brute's own middleware: work before the view, then work on its response (`AroundView`);
anything else on `SyncAndAsync`, which runs it the way the chain it wraps runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

State = TypeVar("State")
GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


class SyncAndAsync(ABC):
    """A middleware that runs sync under WSGI and async under ASGI, as the chain it wraps is (Django's
    "Asynchronous support" for middleware: `sync_capable`, `async_capable`, `markcoroutinefunction`)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @abstractmethod
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """The response: directly when sync, an awaitable of it when `is_async`."""


class AroundView(SyncAndAsync, Generic[State]):
    """A middleware that runs `before` the view and `after` it on the response, sync under WSGI and
    async under ASGI (no thread hop either way). `before` returns what `after` is handed back."""

    @abstractmethod
    def before(self, request: HttpRequest) -> State:
        """Runs before the view; what it returns is handed to `after`."""

    @abstractmethod
    def after(self, request: HttpRequest, response: HttpResponseBase, state: State) -> None:
        """Runs on the view's response (or the next middleware's)."""

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        state = self.before(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        self.after(request, response, state)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        state = self.before(request)
        response = await cast(Awaitable[HttpResponseBase], self.get_response(request))  # is_async
        self.after(request, response, state)
        return response
