from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.notifications.models import Delivery, Kind, Notification, NotificationChannel
from accounts.notifications.services import notification_mark_read, notification_send
from tests.notifications.helpers import SECRET, TOKEN, channel, webhook

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def notify(user, title, **kwargs):
    return notification_send(user=user, kind="order_filled", title=title, body="body text", **kwargs)


def test_the_centre_lists_unread_first_then_newest(signed_in, owner):
    old_unread = notify(owner, "Old unread")
    read = notify(owner, "Already read")
    notification_mark_read(notification=read)
    notify(owner, "New unread")

    page = signed_in.get(reverse("notifications:index")).content.decode()

    assert "<html" in page
    assert page.index("New unread") < page.index("Old unread") < page.index("Already read")
    assert "2 unread" in page
    assert f'action="{reverse("notifications:mark_read", args=[old_unread.pk])}"' in page
    assert f'action="{reverse("notifications:mark_read", args=[read.pk])}"' not in page


def test_the_centre_answers_htmx_with_the_list_partial(signed_in, owner):
    notify(owner, "Filled")
    page = signed_in.get(reverse("notifications:index"), **HX).content.decode()
    assert "<html" not in page
    assert page.lstrip().startswith('<section id="notification-list"')
    assert "Filled" in page


def test_an_empty_centre_says_what_to_do_next(signed_in):
    page = signed_in.get(reverse("notifications:index")).content.decode()
    assert "No notifications yet" in page
    assert reverse("notifications:channels") in page


def test_mark_read_without_javascript_redirects_back(signed_in, owner):
    notification = notify(owner, "Filled")
    response = signed_in.post(reverse("notifications:mark_read", args=[notification.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:index")
    notification.refresh_from_db()
    assert notification.is_read


def test_mark_read_with_htmx_ends_in_the_list_partial(signed_in, owner):
    notification = notify(owner, "Filled")
    response = signed_in.post(reverse("notifications:mark_read", args=[notification.pk]), follow=True, **HX)
    page = response.content.decode()
    assert "<html" not in page
    assert "All read" in page


def oob_badge(page):
    """The unread badge the response swaps into the page header (out of band), or None."""
    start = page.find('<span id="unread-badge"')
    if start < 0:
        return None
    badge = page[start:].split("\n", 1)[0]  # the badge template is one line
    assert 'hx-swap-oob="true"' in badge
    return badge


def test_mark_read_with_htmx_also_updates_the_header_badge(signed_in, owner):
    first = notify(owner, "First")
    second = notify(owner, "Second")

    response = signed_in.post(reverse("notifications:mark_read", args=[first.pk]), follow=True, **HX)
    badge = oob_badge(response.content.decode())
    assert badge is not None
    assert '<span class="tag">1</span>' in badge

    response = signed_in.post(reverse("notifications:mark_read", args=[second.pk]), follow=True, **HX)
    badge = oob_badge(response.content.decode())
    assert badge is not None
    assert 'class="tag"' not in badge


def test_mark_all_read_with_htmx_empties_the_header_badge(signed_in, owner):
    notify(owner, "a")
    notify(owner, "b")
    response = signed_in.post(reverse("notifications:mark_all_read"), follow=True, **HX)
    page = response.content.decode()
    assert "All read" in page
    badge = oob_badge(page)
    assert badge is not None
    assert 'class="tag"' not in badge


def test_the_full_page_has_one_badge_and_swaps_nothing_out_of_band(signed_in, owner):
    notify(owner, "a")
    page = signed_in.get(reverse("notifications:index")).content.decode()
    assert page.count('id="unread-badge"') == 1
    assert "hx-swap-oob" not in page


def test_mark_all_read(signed_in, owner):
    notify(owner, "a")
    notify(owner, "b")
    signed_in.post(reverse("notifications:mark_all_read"))
    assert not Notification.objects.unread().exists()


def test_someone_elses_notification_is_a_404(signed_in, other):
    theirs = notify(other, "Not yours")
    response = signed_in.post(reverse("notifications:mark_read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert "Not yours" not in signed_in.get(reverse("notifications:index")).content.decode()


@pytest.mark.parametrize("action", ["channel_toggle", "channel_test", "channel_delete"])
def test_someone_elses_channel_is_a_404(signed_in, other, receiver, action):
    theirs = webhook(other, receiver)
    assert signed_in.post(reverse(f"notifications:{action}", args=[theirs.pk])).status_code == 404
    assert NotificationChannel.objects.get(pk=theirs.pk).enabled
    assert receiver.requests == []


def test_pages_need_a_login(client):
    for name in ("notifications:index", "notifications:channels", "notifications:unread"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_the_unread_badge(signed_in, owner):
    notify(owner, "a")
    page = signed_in.get(reverse("notifications:unread")).content.decode()
    assert '<span class="tag">1</span>' in page


def test_adding_a_webhook_channel_then_seeing_it_masked(signed_in, owner, receiver):
    form = {
        "type": "webhook",
        "label": "My bot",
        "kinds": ["order_filled", "position_closed"],
        "webhook_url": f"{receiver.url}/in/secret-path-xyz",
        "webhook_secret": SECRET,
    }
    response = signed_in.post(reverse("notifications:channels"), form)
    assert response.status_code == 302
    channel = NotificationChannel.objects.get(user=owner)
    assert channel.kinds == ["order_filled", "position_closed"]

    page = signed_in.get(reverse("notifications:channels")).content.decode()
    assert "My bot" in page
    assert SECRET not in page
    assert "secret-path-xyz" not in page
    assert SECRET[-4:] in page


def test_the_add_form_shows_a_clear_error_on_the_field(signed_in):
    form = {"type": "telegram", "label": "Phone", "kinds": ["error"], "telegram_bot_token": "oops"}
    page = signed_in.post(reverse("notifications:channels"), form, **HX).content.decode()
    assert "<html" not in page
    assert "A bot token looks like" in page
    assert not NotificationChannel.objects.exists()


def test_the_channels_page_empty_state(signed_in):
    page = signed_in.get(reverse("notifications:channels")).content.decode()
    assert "No channels yet" in page


def test_send_test_reports_success_and_failure(signed_in, owner, receiver):
    channel = webhook(owner, receiver)
    url = reverse("notifications:channel_test", args=[channel.pk])

    page = signed_in.post(url, follow=True, **HX).content.decode()
    assert "Sent a test notification" in page
    assert receiver.requests[-1].json()["title"] == "Test notification from Brute"

    receiver.answer(404, "no_service")
    page = signed_in.post(url, follow=True).content.decode()
    assert "The test did not go through: HTTP 404: no_service" in page
    assert not Delivery.objects.exists()


def test_disable_enable_and_delete(signed_in, owner, receiver):
    channel = webhook(owner, receiver)
    signed_in.post(reverse("notifications:channel_toggle", args=[channel.pk]))
    channel.refresh_from_db()
    assert not channel.enabled
    notify(owner, "not sent anywhere")
    assert not Delivery.objects.exists()

    signed_in.post(reverse("notifications:channel_toggle", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.enabled

    signed_in.post(reverse("notifications:channel_delete", args=[channel.pk]))
    assert not NotificationChannel.objects.exists()


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"type": "email", "label": "Me", "kinds": []}, "Choose at least one kind of notification."),
        ({"type": "webhook", "label": "Hook", "kinds": ["error"], "webhook_url": "not a url"}, "URL"),
    ],
)
def test_a_refused_channel_answers_400_with_the_form_in_place(signed_in, form, words):
    response = signed_in.post(reverse("notifications:channels"), form, **HX)
    page = response.content.decode()
    assert response.status_code == 400
    assert page.lstrip().startswith('<div id="channels">')
    assert words in page
    assert not NotificationChannel.objects.exists()


def test_the_inbox_pages_its_notifications(signed_in, owner):
    for i in range(30):
        notify(owner, f"note {i}")
    first = signed_in.get(reverse("notifications:index")).content.decode()
    second = signed_in.get(reverse("notifications:index"), {"page": 2}).content.decode()
    assert "page 1 of 2" in first
    assert first.count('class="notification ') == 25
    assert second.count('class="notification ') == 5


def test_no_secret_of_any_channel_shows_in_the_channel_list(signed_in, owner, receiver, settings):
    """The signing secret, a Telegram bot token's secret part, a Slack webhook's path and the password
    of a URL saved before credentials were refused in URLs all show only masked."""

    settings.TELEGRAM_API_BASE = receiver.url
    webhook(owner, receiver)
    channel(owner, "telegram", {"bot_token": TOKEN, "chat_id": "42"})
    channel(owner, "slack", {"url": f"{receiver.url}/services/T0SECRET/B0SECRET/XXSECRETXX"})
    NotificationChannel(
        user=owner,
        type="webhook",
        label="old",
        kinds=list(Kind.values),
        config={"url": "https://alice:hunter2pass@hooks.example/in", "secret": SECRET},
    ).save()

    page = signed_in.get(reverse("notifications:channels")).content.decode()

    assert SECRET not in page
    assert TOKEN.split(":", 1)[1] not in page
    assert TOKEN.split(":", 1)[1][-4:] in page
    assert "SECRET" not in page
    assert "hunter2pass" not in page
    assert "alice" not in page
    assert "hooks.example" in page


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"type": "webhook", "webhook_url": "http://10.0.0.1/hook", "webhook_secret": "short"},
            ["This address is on a private network", "The signing secret must be at least 16 characters."],
        ),
        (
            {"type": "telegram", "telegram_bot_token": "oops", "telegram_chat_id": "chat"},
            ["A bot token looks like", "A chat id is a number"],
        ),
        (
            {"type": "webhook", "kinds": [], "webhook_url": "ftp://x", "webhook_secret": SECRET},
            ["Choose at least one kind of notification.", "Enter a full http:// or https:// URL."],
        ),
    ],
)
def test_one_submit_shows_every_fields_error(signed_in, settings, form, errors):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    response = signed_in.post(
        reverse("notifications:channels"), {"label": "x", "kinds": ["error"], **form}, **HX
    )
    page = response.content.decode()

    assert response.status_code == 400
    assert [error for error in errors if error not in page] == []
    assert not NotificationChannel.objects.exists()
