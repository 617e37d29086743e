from __future__ import annotations

from typing import Any

from django import template

from accounts.notifications.selectors import notification_unread_count

register = template.Library()


@register.inclusion_tag("notifications/unread_badge.html", takes_context=True)
def unread_badge(context: dict[str, Any]) -> dict[str, Any]:
    """The nav's unread counter: `{% load notifications %}{% unread_badge %}`."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread": 0, "show": False}
    return {"unread": notification_unread_count(user=user), "show": True}
