"""The API token form's bad input: a message in words, 400, and no token made."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"name": "", "scopes": ["read"]}, "Give the token a name"),
        ({"name": "bot", "scopes": []}, "Choose at least one scope."),
        ({"name": "bot", "scopes": ["read"], "expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": "bot", "scopes": ["read"], "expires_in_days": "abc"}, "Enter a whole number."),
    ],
)
def test_a_bad_token_request_is_refused_in_words(client, form, words):
    client.force_login(UserFactory())
    response = client.post("/accounts/tokens/", form)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not ApiToken.objects.exists()
