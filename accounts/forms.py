from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import (
    AuthenticationForm,
    PasswordChangeForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.http import HttpRequest

from accounts.models import User

KEEP_SIGNED_IN_HELP = (
    "Left unticked, every API login and personal API token of yours stops working, as do your other "
    "browser sessions. Tick it only if you are sure no one else has your old password."
)


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        # Sign-up, the API and the User model store emails in lower case; so does this form.
        return str(self.cleaned_data["username"]).lower()


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The email axes counts failures against: lower case, so `A@x` and `a@x` share one budget."""
    raw = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(raw).strip().lower()


class _KeepSignedIn(forms.Form):
    keep_signed_in = forms.BooleanField(
        required=False, label="Keep my API logins and tokens working", help_text=KEEP_SIGNED_IN_HELP
    )


class PasswordChangeKeepForm(PasswordChangeForm, _KeepSignedIn):
    pass


class SetPasswordKeepForm(SetPasswordForm, _KeepSignedIn):
    pass


class SignOutEverywhereForm(forms.Form):
    keep_api_tokens = forms.BooleanField(
        required=False,
        label="Keep my personal API tokens working",
        help_text="Browser sessions and API logins end either way.",
    )


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "display_name")

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in instead.")
        return email
