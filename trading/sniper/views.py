"""Pages: new listings, rules (CRUD and their firings), positions (close by hand), risk limits, alerts."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from config.errors import BruteError
from trading.sniper import selectors, services
from trading.sniper.forms import AlertForm, CloseForm, RiskLimitsForm, RuleForm


class Request(HttpRequest):
    htmx: HtmxDetails
    user: User


def _form_error(form: Any, exc: ValidationError | BruteError) -> None:
    if isinstance(exc, BruteError):
        form.add_error(None, exc.message)
    elif hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


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
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in [*RuleForm.Meta.fields, "take_profit"]}
        try:
            services.rule_save(user=request.user, rule=rule, **fields)
        except (ValidationError, BruteError) as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Rule saved")
            return redirect("sniper:rules")
    return render(request, "sniper/rule_form.html", {"form": form, "rule": rule})


@login_required
@require_POST
def rule_delete(request: Request, rule_id: int) -> HttpResponse:
    services.rule_delete(rule=selectors.rule_get(user=request.user, rule_id=rule_id))
    messages.success(request, "Rule deleted")
    return redirect("sniper:rules")


@login_required
@require_GET
def positions(request: Request) -> HttpResponse:
    context = {"positions": selectors.position_list(user=request.user), "close_form": CloseForm()}
    return render(request, "sniper/positions.html", context)


@login_required
@require_POST
def position_close(request: Request, position_id: int) -> HttpResponse:
    position = selectors.position_get(user=request.user, position_id=position_id)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.position_close(user=request.user, position=position, qty=form.cleaned_data["quantity"])
            messages.success(request, f"Sell order placed for {position.symbol}")
        except BruteError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, "Enter a quantity, or leave it empty to close all")
    return redirect("sniper:positions")


@login_required
@require_http_methods(["GET", "POST"])
def risk(request: Request) -> HttpResponse:
    limits = selectors.risk_limits_get(user=request.user)
    form = RiskLimitsForm(request.POST or None, instance=limits)
    if request.method == "POST" and form.is_valid():
        services.risk_limits_save(user=request.user, **form.cleaned_data)
        messages.success(request, "Risk limits saved")
        return redirect("sniper:risk")
    return render(request, "sniper/risk.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def alerts(request: Request) -> HttpResponse:
    form = AlertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.alert_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Alert saved")
            return redirect("sniper:alerts")
    return render(
        request, "sniper/alerts.html", {"form": form, "alerts": selectors.alert_list(user=request.user)}
    )


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
