"""Every form page, fresh and refused: each `<label for>` names a form control on the same page, and a
group of radios or checkboxes is named by its group (role="group" with aria-labelledby), not by a
label that points at nothing. A screen reader reads a control by its label; a `for` that misses
leaves the control unnamed."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from accounts.models import User
from tests.trading.conftest import mexc, sim_config, synced  # noqa: F401  (fixtures)
from trading.simexchange.testing import SimExchangeThread
from trading.sniper.models import Rule

pytestmark = pytest.mark.django_db

LABELABLE = {"input", "select", "textarea", "button", "meter", "output", "progress"}


class Labels(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, str] = {}  # id -> tag, of the labelable elements
        self.ids: set[str] = set()
        self.label_for: list[str] = []
        self.groups: list[dict[str, str | None]] = []
        self.choices: list[tuple[str, bool]] = []  # each radio or checkbox: (name, inside a group)
        self._open_groups: list[int] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if ident := attr.get("id"):
            self.ids.add(ident)
            if tag in LABELABLE and attr.get("type") != "hidden":
                self.controls[ident] = tag
        if tag == "label" and "for" in attr:
            self.label_for.append(attr["for"] or "")
        if tag == "input":
            kind = attr.get("type") or "text"
            if kind in ("radio", "checkbox"):
                self.choices.append((attr.get("name") or "", bool(self._open_groups)))
            return  # a void element: no end tag
        self._depth += 1
        if attr.get("role") == "group" or tag == "fieldset":
            self.groups.append(attr)
            self._open_groups.append(self._depth)

    def handle_endtag(self, tag: str) -> None:
        if tag == "input":
            return
        if self._open_groups and self._open_groups[-1] == self._depth:
            self._open_groups.pop()
        self._depth -= 1


def check_labels(html: str) -> Labels:
    page = Labels()
    page.feed(html)
    missing = [target for target in page.label_for if target not in page.controls]
    assert not missing, f"<label for> naming no form control: {missing}"
    names = [name for name, _ in page.choices]
    # One checkbox is a control with its own label; several of one name are a group of choices.
    loose = {name for name, grouped in page.choices if names.count(name) > 1 and not grouped}
    assert not loose, f"radios or checkboxes outside a named group: {loose}"
    for group in page.groups:
        if group.get("role") == "group" and not group.get("aria-label"):
            named = group.get("aria-labelledby") or ""
            assert named in page.ids, f"a group named by a missing id: {group}"
    return page


@pytest.fixture
def signed_in(client: Client, synced: SimExchangeThread) -> tuple[Client, User]:  # noqa: F811
    from tests.factories import UserFactory

    user: User = UserFactory()
    client.force_login(user)
    return client, user


FORM_PAGES = [
    "/markets/",
    "/markets/SOLUSDT/",
    "/orders/",
    "/settings/",
    "/accounts/tokens/",
    "/accounts/password/change/",
    "/sniper/rules/new/",
    "/sniper/risk/",
    "/sniper/alerts/",
    "/notifications/channels/",
]


@pytest.mark.parametrize("url", FORM_PAGES)
def test_every_label_on_a_form_page_names_a_control(signed_in: tuple[Client, User], url: str) -> None:
    client, _ = signed_in
    response = client.get(url)
    assert response.status_code == 200
    page = check_labels(response.content.decode())
    assert page.label_for  # a form page with labels, checked


def test_every_label_of_a_refused_form_still_names_a_control(signed_in: tuple[Client, User]) -> None:
    client, user = signed_in
    rule = Rule.objects.create(user=user, symbol="SOLUSDT", trigger="price_above", trigger_value=1, amount=5)
    refused = [
        client.post("/markets/SOLUSDT/order", {"side": "BUY", "type": "LIMIT", "amount": "x"}),
        client.post("/sniper/rules/new/", {"trigger": "price_above", "amount": "0"}),
        client.post(f"/sniper/rules/{rule.pk}/", {"trigger": "price_above", "amount": "0"}),
        client.post("/sniper/alerts/", {"symbol": "SOLUSDT", "value": "-1"}),
        client.post("/sniper/risk/", {"max_order_value": "-1"}),
        client.post("/accounts/tokens/", {"name": ""}),
        client.post("/notifications/channels/", {"kind": "webhook"}),
    ]
    for response in refused:
        assert response.status_code == 400, response
        check_labels(response.content.decode())


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_every_label_on_a_signed_out_form_names_a_control(client: Client, url: str) -> None:
    page = check_labels(client.get(url).content.decode())
    assert page.label_for


def test_radio_and_checkbox_groups_are_named_as_groups(signed_in: tuple[Client, User]) -> None:
    client, _ = signed_in
    for url, group in [
        ("/settings/", "id_mode_label"),
        ("/accounts/tokens/", "id_scopes_label"),
        ("/notifications/channels/", "id_kinds_label"),
    ]:
        html = client.get(url).content.decode()
        page = check_labels(html)
        assert any(len([n for n, _ in page.choices if n == name]) > 1 for name, _ in page.choices), url
        assert f'role="group" aria-labelledby="{group}"' in html
        assert f'<span class="label" id="{group}">' in html
