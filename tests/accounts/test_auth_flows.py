from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Role, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_it_signs_up_a_trader_and_logs_them_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {"email": "New@Example.com", "display_name": "Ann", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.role == Role.TRADER
    assert user.can_trade
    assert not user.is_staff
    assert client.get(reverse("home")).status_code == 200


def test_it_refuses_a_duplicate_email_with_a_clear_message(client):
    UserFactory(email="taken@example.com")
    response = client.post(
        reverse("accounts:signup"),
        {"email": "TAKEN@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email="taken@example.com").count() == 1


def test_it_refuses_a_weak_password_and_keeps_the_form(client):
    response = client.post(
        reverse("accounts:signup"), {"email": "weak@example.com", "password1": "123", "password2": "123"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "too short" in body
    assert 'value="weak@example.com"' in body
    assert not User.objects.filter(email="weak@example.com").exists()


def test_it_logs_in_with_email_and_password(client):
    user = UserFactory()
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_it_shows_an_error_for_a_wrong_password(client):
    user = UserFactory()
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": "nope-nope-nope"})
    assert response.status_code == 400
    assert "Please enter a correct email and password" in response.content.decode()


def test_it_sends_home_to_login_when_anonymous(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_it_logs_out_on_post(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_it_resets_a_password_through_the_emailed_link(client):
    user = UserFactory(email="forgot@example.com")
    client.post(reverse("accounts:password_reset"), {"email": "forgot@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert "<h1>Choose a new password</h1>" in form_page.content.decode()
    assert ">Set password</button>" in form_page.content.decode()
    new = "a-brand-new-passphrase-7"
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


def test_it_changes_a_password_for_a_signed_in_user(client):
    user = UserFactory()
    client.force_login(user)
    new = "another-strong-passphrase-3"
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


def test_the_three_password_pages_share_one_template_and_name_themselves(client):
    reset = client.get(reverse("accounts:password_reset")).content.decode()
    assert "<title>Reset password" in reset
    assert "<h1>Reset your password</h1>" in reset
    assert ">Send reset link</button>" in reset
    bad_link = client.get(reverse("accounts:password_reset_confirm", args=["MQ", "set-password"]))
    assert "This reset link is invalid or was already used." in bad_link.content.decode()
    client.force_login(UserFactory())
    change = client.get(reverse("accounts:password_change")).content.decode()
    assert "<title>Change password" in change
    assert "<h1>Change your password</h1>" in change
    assert ">Change password</button>" in change


def test_a_refused_password_change_answers_400_with_the_form(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": "not-the-password", "new_password1": "x", "new_password2": "y"},
    )
    assert response.status_code == 400
    assert "incorrect" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_refused_password_reset_request_answers_400(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "not an email"})
    assert response.status_code == 400
    assert "valid email" in response.content.decode()
