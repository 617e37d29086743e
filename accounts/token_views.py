"""The settings page for personal API tokens: list, create (the secret shown once), revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import ApiScope, ApiToken, User
from accounts.tokens import (
    NO_TRADE_SCOPE,
    api_token_create,
    api_token_revoke,
    api_tokens_for_user,
    scopes_for_user,
)
from config.errors import BruteError, NotFound
from config.typing import AuthenticatedRequest

NEW_TOKEN_KEY = "accounts:new_api_token"


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        help_text="Where the token is used, e.g. “trading bot”.",
        error_messages={"required": "Give the token a name, e.g. “trading bot”."},
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        initial=[ApiScope.READ],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
        help_text="Read sees your data; trade also places and cancels orders (if your role may trade).",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the scopes this user's role can use are offered (and accepted): a viewer sees read.
        allowed = scopes_for_user(user=user)
        field = self.fields["scopes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(value, label) for value, label in ApiScope.choices if value in allowed]
        field.error_messages["invalid_choice"] = NO_TRADE_SCOPE
        if ApiScope.TRADE not in allowed:
            field.help_text = (
                "Read sees your data. Your role cannot trade, so a token cannot have the trade scope."
            )

    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires in (days)", help_text="Empty: never."
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    form = ApiTokenForm(request.POST or None, user=user)
    # Post/Redirect/Get: a new token's secret waits in the session for the next GET, which shows it
    # once and forgets it (never in the URL); reloading that page does not post the form again.
    created = request.session.pop(NEW_TOKEN_KEY, None) if request.method == "GET" else None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            token, secret = api_token_create(
                user=user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except BruteError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[NEW_TOKEN_KEY] = {"name": token.name, "secret": secret}
            return redirect("accounts:tokens")
    # Each token with the characters that tell it apart (its hint without the common prefix; the
    # full hint is the cell's title), so the column stays narrow.
    tokens = [(token, token.hint.removeprefix(ApiToken.PREFIX)) for token in api_tokens_for_user(user=user)]
    context = {"form": form, "created": created, "tokens": tokens}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_POST
def api_token_revoke_view(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    try:
        token = api_token_revoke(user=request.user, token_id=token_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:tokens")
