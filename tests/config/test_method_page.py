"""A wrong method on a page's address answers the 405 page (config/method_page.py), not a blank body."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.test import Client, RequestFactory

from accounts.models import User
from config.method_page import MethodNotAllowedPageMiddleware
from tests.factories import UserFactory
from trading.sniper.models import Rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(client: Client) -> User:
    user: User = UserFactory()
    client.force_login(user)
    return user


def test_opening_a_buttons_address_says_it_takes_post_only(client: Client, trader: User) -> None:
    rule = Rule.objects.create(user=trader, any_new_listing=True, amount=Decimal("5"))

    response = client.get(f"/sniper/rules/{rule.pk}/delete/")
    body = response.content.decode()

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response["Content-Type"].startswith("text/html")
    assert "Method not allowed" in body
    assert "This address accepts <strong>POST</strong> only, not GET." in body
    assert "Go back to the page and use its button." in body
    assert "Content-Security-Policy" in response  # still goes through the outer middleware
    assert Rule.objects.filter(pk=rule.pk, deleted_at__isnull=True).exists()


def test_posting_to_a_page_links_to_the_page(client: Client, trader: User) -> None:
    response = client.post("/sniper/positions/")
    body = response.content.decode()

    assert response.status_code == 405
    assert "This address accepts <strong>GET</strong> only, not POST." in body
    assert '<a href="/sniper/positions/">Open it</a>' in body


def test_a_signed_out_visitor_gets_the_page_too(client: Client) -> None:
    response = client.get("/accounts/logout/")

    assert response.status_code == 405
    assert "accepts <strong>POST</strong> only, not GET." in response.content.decode()


def _request() -> HttpRequest:
    request = RequestFactory().get("/sniper/rules/1/delete/")
    request.user = AnonymousUser()
    return request


def test_the_async_path_renders_the_same_page() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponseNotAllowed(["POST", "DELETE"])

    response = asyncio.run(MethodNotAllowedPageMiddleware(view)(_request()))  # type: ignore[arg-type]

    assert response.status_code == 405
    assert response["Allow"] == "POST, DELETE"
    assert "accepts <strong>POST, DELETE</strong>, not GET." in response.content.decode()


def test_a_405_that_says_something_and_the_apis_own_are_left_as_they_are() -> None:
    def worded(request: HttpRequest) -> HttpResponse:
        return HttpResponse("use POST", status=405)

    def bare(request: HttpRequest) -> HttpResponse:
        return HttpResponseNotAllowed(["POST"])

    api_request = RequestFactory().get("/api/v1/orders")
    api_request.user = AnonymousUser()

    kept = MethodNotAllowedPageMiddleware(worded)(_request())
    api = MethodNotAllowedPageMiddleware(bare)(api_request)

    assert isinstance(kept, HttpResponse)
    assert kept.content == b"use POST"
    assert isinstance(api, HttpResponse)
    assert api.content == b""
