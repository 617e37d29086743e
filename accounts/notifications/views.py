"""The notification centre and channel settings. Every action answers a plain POST with a redirect;
htmx follows it with HX-Request still set, so the page view answers with its named partial."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from accounts.notifications import selectors, services
from accounts.notifications.channels import ConfigError, mask
from accounts.notifications.forms import ChannelForm
from config.errors import BruteError

PAGE_SIZE = 25


class Request(HttpRequest):
    htmx: HtmxDetails
    user: User  # every view here is behind login_required


@login_required
@require_GET
def index(request: Request) -> HttpResponse:
    page = Paginator(selectors.notification_list(user=request.user, limit=PAGE_SIZE * 40), PAGE_SIZE)
    context = {
        "page": page.get_page(request.GET.get("page")),
        "unread": selectors.notification_unread_count(user=request.user),
    }
    # htmx (a page, or the list after marking read) also gets the header's badge, swapped out of band.
    template = "notifications/index.html#update" if request.htmx else "notifications/index.html"
    return render(request, template, context)


@login_required
@require_GET
def unread(request: Request) -> HttpResponse:
    count = selectors.notification_unread_count(user=request.user)
    return render(request, "notifications/unread_badge.html", {"unread": count, "show": True})


@login_required
@require_POST
def mark_read(request: Request, notification_id: int) -> HttpResponse:
    notification = selectors.notification_get(user=request.user, notification_id=notification_id)
    services.notification_mark_read(notification=notification)
    return redirect("notifications:index")


@login_required
@require_POST
def mark_all_read(request: Request) -> HttpResponse:
    services.notification_mark_all_read(user=request.user)
    return redirect("notifications:index")


@login_required
@require_http_methods(["GET", "POST"])
def channel_index(request: Request) -> HttpResponse:
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = services.channel_create(
                user=request.user,
                type=form.cleaned_data["type"],
                label=form.cleaned_data["label"],
                kinds=form.cleaned_data["kinds"],
                config=form.config(),
            )
        except ConfigError as exc:
            form.add_config_errors(exc)
        except BruteError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Added “{channel.label}”. Send it a test to check it works.")
            return redirect("notifications:channels")
    channels = [(c, mask(c.type, c.config)) for c in selectors.channel_list(user=request.user)]
    template = "notifications/channels.html#channels" if request.htmx else "notifications/channels.html"
    status = 400 if form.is_bound and form.errors else 200  # htmx swaps it in place (static/js/app.js)
    return render(request, template, {"form": form, "channels": channels}, status=status)


@login_required
@require_POST
def channel_toggle(request: Request, channel_id: int) -> HttpResponse:
    channel = selectors.channel_get(user=request.user, channel_id=channel_id)
    services.channel_set_enabled(channel=channel, enabled=not channel.enabled)
    state = "enabled" if channel.enabled else "disabled"
    messages.success(request, f"“{channel.label}” is {state}.")
    return redirect("notifications:channels")


@login_required
@require_POST
def channel_test(request: Request, channel_id: int) -> HttpResponse:
    channel = selectors.channel_get(user=request.user, channel_id=channel_id)
    try:
        services.channel_test(channel=channel)
    except BruteError as exc:
        messages.error(request, f"“{channel.label}”: {exc.message}")
    else:
        messages.success(request, f"Sent a test notification through “{channel.label}”.")
    return redirect("notifications:channels")


@login_required
@require_POST
def channel_delete(request: Request, channel_id: int) -> HttpResponse:
    channel = selectors.channel_get(user=request.user, channel_id=channel_id)
    services.channel_delete(channel=channel)
    messages.success(request, f"Deleted “{channel.label}”.")
    return redirect("notifications:channels")
