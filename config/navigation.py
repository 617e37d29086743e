"""The main navigation, in one place: (label, url name, who sees it)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    operators_only: bool = False
    badge: str = ""


NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Dashboard", "home"),
    NavItem("Markets", "trading:markets"),
    NavItem("Listings", "sniper:listings"),
    NavItem("Orders", "trading:orders"),
    NavItem("Positions", "sniper:positions"),
    NavItem("Portfolio", "trading:portfolio"),
    NavItem("Rules", "sniper:rules"),
    NavItem("Inbox", "notifications:index", badge="notifications"),
    NavItem("Settings", "trading:settings"),
    NavItem("API", "api:openapi-view"),
    NavItem("Backups", "backups:index", operators_only=True),
    NavItem("Admin", "admin:index", operators_only=True),
)


def nav_for(request: HttpRequest) -> list[dict[str, object]]:
    user = request.user
    is_operator = bool(getattr(user, "is_operator", False))
    items = []
    for item in NAV_ITEMS:
        if item.operators_only and not is_operator:
            continue
        url = reverse(item.url_name)
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": item.label, "url": url, "active": active, "badge": item.badge})
    return items
