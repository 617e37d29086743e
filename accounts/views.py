from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import FormView

from accounts.forms import (
    LoginForm,
    PasswordChangeKeepForm,
    SetPasswordKeepForm,
    SignOutEverywhereForm,
    SignupForm,
)
from accounts.services import user_create, user_password_changed, user_sign_out_everywhere
from config.api_throttling import LoginRateThrottle
from config.typing import AuthenticatedRequest


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_create(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
            display_name=form.cleaned_data.get("display_name", ""),
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Brute. You are trading on paper until you add MEXC keys.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


class InvalidIs400:
    """A refused form answers 400 with the form and its errors, like every other form of the site."""

    def form_invalid(self, form: Any) -> HttpResponse:
        response: HttpResponse = super().form_invalid(form)  # type: ignore[misc]
        response.status_code = 400
        return response


class LoginView(InvalidIs400, auth_views.LoginView):
    """Django's log-in, with the API's per-IP budget (API_RATE_LIMIT_LOGIN), shared with it, on
    every attempt: axes locks one email after a few failures, this stops one IP spraying many."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request):
            return _wait_page(request, "accounts/throttled.html", math.ceil(throttle.wait() or 60))
        return super().post(request, *args, **kwargs)


def wait_words(seconds: int) -> str:
    """How long to wait, as a person says it: "45 seconds", "1 minute", "15 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _wait_page(request: HttpRequest, template: str, seconds: int) -> HttpResponse:
    response = render(request, template, {"wait": wait_words(seconds), "seconds": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """Axes' lockout answer (AXES_LOCKOUT_CALLABLE): this account is locked for its cool-off, said
    in words and in Retry-After (the API's `locked_out` gives the same seconds)."""
    cool_off = get_cool_off(request)
    return _wait_page(request, "accounts/locked_out.html", int(cool_off.total_seconds()) if cool_off else 60)


if TYPE_CHECKING:
    _FormView = FormView[Any]  # generic in django-stubs only
else:
    _FormView = FormView


PASSWORD_FORM = "accounts/password_form.html"


def password_page(title: str, heading: str, button: str) -> dict[str, str]:
    """What the one password template shows (change, reset request, set after the link)."""
    return {"title": title, "heading": heading, "submit_label": button}


class _PasswordChanged(InvalidIs400, _FormView):
    """After Django's own view saved the new password: the user's other sign-ins end (unless kept)."""

    template_name = PASSWORD_FORM

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        user_password_changed(user=form.user, keep_signed_in=form.cleaned_data["keep_signed_in"])
        return response


class PasswordChangeView(_PasswordChanged, auth_views.PasswordChangeView):
    form_class = PasswordChangeKeepForm
    extra_context = password_page("Change password", "Change your password", "Change password")
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetView(InvalidIs400, auth_views.PasswordResetView):
    template_name = PASSWORD_FORM
    extra_context = password_page("Reset password", "Reset your password", "Send reset link")
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(_PasswordChanged, auth_views.PasswordResetConfirmView):
    form_class = SetPasswordKeepForm
    extra_context = password_page("Choose a new password", "Choose a new password", "Set password")
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@login_required
@require_POST
def sign_out_everywhere(request: AuthenticatedRequest) -> HttpResponse:
    """Ends the user's other sessions, API logins and (unless kept) personal tokens; this one stays."""
    user = request.user
    form = SignOutEverywhereForm(request.POST)
    keep = form.is_valid() and form.cleaned_data["keep_api_tokens"]
    revoked = user_sign_out_everywhere(user=user, request=request, keep_api_tokens=keep)
    messages.success(
        request,
        f"Signed out everywhere else: {revoked.refresh_tokens} API logins and "
        f"{revoked.api_tokens} personal tokens revoked.",
    )
    return redirect("accounts:tokens")
