"""Pages: new listings, rules (CRUD and their firings), positions (close by hand), risk limits, alerts."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from config.errors import BruteError, NotFound
from trading import selectors as trading_selectors
from trading import services as trading_services
from trading.models import Symbol
from trading.sniper import selectors, services
from trading.sniper.forms import (
    AlertForm,
    CloseForm,
    RiskLimitsForm,
    RuleForm,
    errors_in_words,
    take_profit_formset,
)


class Request(HttpRequest):
    htmx: HtmxDetails
    user: User


def _form_error(form: Any, exc: ValidationError | BruteError) -> None:
    errors_in_words(form, exc.message if isinstance(exc, BruteError) else exc)


def _saved(
    request: Request, form: Any, save: Callable[[], object], *, message: str, to: str
) -> HttpResponse | None:
    """Runs `save` (one service call): a refusal becomes the form's error in words and None (the page
    is shown again), success a message and a redirect to `to`."""
    try:
        save()
    except (ValidationError, BruteError) as exc:
        _form_error(form, exc)
        return None
    messages.success(request, message)
    return redirect(to)


def _status(*forms: Any) -> int:
    """400 when a submitted form was refused, so HTMX and scripts can tell (the page still shows it)."""
    return 400 if any(f.is_bound and f.errors for f in forms) else 200


@login_required
@require_GET
def listings(request: Request) -> HttpResponse:
    template = "sniper/listings.html#board" if request.htmx else "sniper/listings.html"
    return render(request, template, selectors.listings_board(user=request.user))


@login_required
@require_GET
def rules(request: Request) -> HttpResponse:
    context = {
        "rules": selectors.rule_list(user=request.user),
        "firings": selectors.firing_list(user=request.user),
    }
    return render(request, "sniper/rules.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: Request, rule_id: int | None = None) -> HttpResponse:
    rule = selectors.rule_get(user=request.user, rule_id=rule_id) if rule_id else None
    form = RuleForm(request.POST or None, instance=rule)
    ladder = take_profit_formset(request.POST or None, rule=rule)
    if request.method == "POST" and form.is_valid() and ladder.is_valid():
        fields = {name: form.cleaned_data[name] for name in RuleForm.Meta.fields}
        save = partial(
            services.rule_save, user=request.user, rule=rule, take_profit=ladder.levels(), **fields
        )
        if done := _saved(request, form, save, message="Rule saved", to="sniper:rules"):
            return done
    context = {"form": form, "ladder": ladder, "rule": rule}
    return render(request, "sniper/rule_form.html", context, status=_status(form, ladder))


@login_required
@require_POST
def rule_delete(request: Request, rule_id: int) -> HttpResponse:
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    services.rule_delete(rule=rule)
    messages.success(request, f"Rule “{rule}” deleted; its firings stay in the history.")
    return redirect("sniper:rules")


@login_required
@require_GET
def positions(request: Request) -> HttpResponse:
    context = {"rows": selectors.position_rows(user=request.user)}
    return render(request, "sniper/positions.html", context)


@login_required
@require_POST
def position_close(request: Request, position_id: int) -> HttpResponse:
    position = selectors.position_get(user=request.user, position_id=position_id)
    try:
        symbol: Symbol | None = trading_selectors.symbol_get(symbol=position.symbol)
    except NotFound:  # no longer listed: the range is still said, to 8 decimals
        symbol = None
    form = CloseForm(request.POST, held=position.qty, symbol=symbol)
    if form.is_valid():
        try:
            services.position_close(user=request.user, position=position, qty=form.cleaned_data["quantity"])
            messages.success(request, f"Sell order placed for {position.symbol}")
        except BruteError as exc:
            messages.error(request, exc.message)
    else:
        for error in form.errors.get("quantity", []):
            messages.error(request, str(error))
    return redirect("sniper:positions")


@login_required
@require_http_methods(["GET", "POST"])
def risk(request: Request) -> HttpResponse:
    limits = trading_selectors.risk_limits_get(user=request.user)
    form = RiskLimitsForm(request.POST or None, instance=limits)
    if request.method == "POST" and form.is_valid():
        save = partial(trading_services.risk_limits_save, user=request.user, **form.cleaned_data)
        if done := _saved(request, form, save, message="Risk limits saved", to="sniper:risk"):
            return done
    return render(request, "sniper/risk.html", {"form": form}, status=_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def alerts(request: Request) -> HttpResponse:
    form = AlertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        save = partial(services.alert_create, user=request.user, **form.cleaned_data)
        if done := _saved(request, form, save, message="Alert saved", to="sniper:alerts"):
            return done
    context = {"form": form, "alerts": selectors.alert_list(user=request.user)}
    return render(request, "sniper/alerts.html", context, status=_status(form))


@login_required
@require_POST
def alert_action(request: Request, alert_id: int, action: str) -> HttpResponse:
    alert = selectors.alert_get(user=request.user, alert_id=alert_id)
    if action not in ("rearm", "delete"):
        raise Http404("No such action")
    if action == "rearm":
        services.alert_rearm(user=request.user, alert=alert)
    else:
        services.alert_delete(user=request.user, alert=alert)
    return redirect("sniper:alerts")
