"""Where webhook, Slack and Telegram deliveries may go: public addresses only unless
NOTIFY_ALLOW_PRIVATE_URLS, each send connecting to the very address it checked, and URLs refused at
input with a clear error. The resolver (the operating system's DNS) is replaced by a table here."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from django.urls import reverse

from accounts.notifications.channels import ConfigError
from accounts.notifications.models import Delivery, NotificationChannel
from accounts.notifications.services import channel_create, delivery_attempt, notification_send
from tests.notifications.helpers import SECRET, TOKEN, channel

pytestmark = pytest.mark.django_db

REAL_GETADDRINFO = socket.getaddrinfo
REAL_CREATE_CONNECTION = socket.create_connection


class Resolver:
    """getaddrinfo answering from `table` (name -> the addresses of each successive lookup; the last
    repeats); IP literals and localhost as the system does; any other name does not exist."""

    def __init__(self) -> None:
        self.table: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.table:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                if name != "localhost":
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.lookups.append(name)
        answers = self.table[name]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        infos = []
        for address in addresses:
            ip = ipaddress.ip_address(address)
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sockaddr = (address, port or 0, 0, 0) if ip.version == 6 else (address, port or 0)
            infos.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return infos


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    resolver = Resolver()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts every outgoing TCP connection was opened to. Tests have no internet: a connection to
    anything but loopback is refused at once, after being recorded."""
    opened: list[str] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        host, port = address
        opened.append(host)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:  # a name: the socket module resolves it (through the table above)
            ip = ipaddress.ip_address(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][4][0])
        if not ip.is_loopback:
            raise ConnectionRefusedError(111, "Connection refused")
        return REAL_CREATE_CONNECTION((str(ip), port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return opened


def webhook_to(user: Any, url: str) -> NotificationChannel:
    return channel(user, "webhook", {"url": url, "secret": SECRET})


def attempt(user: Any) -> Delivery:
    notification_send(user=user, kind="error", title="t", body="")
    delivery = Delivery.objects.get()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::2]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[::ffff:127.0.0.1]:8080/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://[2002:a00:1::1]/hook",
    ],
)
def test_private_loopback_and_link_local_destinations_are_refused_by_default(owner, url):
    with pytest.raises(ConfigError) as caught:
        webhook_to(owner, url)
    assert caught.value.field == "url"
    assert "private network" in caught.value.message
    assert not NotificationChannel.objects.exists()


def test_a_name_resolving_to_an_ipv4_mapped_private_address_is_refused_at_input_and_at_send(
    owner, dns, settings, connections
):
    dns.table["mapped.example"] = [["::ffff:10.0.0.1"]]
    with pytest.raises(ConfigError):
        webhook_to(owner, "https://mapped.example/hook")

    settings.NOTIFY_ALLOW_PRIVATE_URLS = True
    webhook_to(owner, "https://mapped.example/hook")
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    delivery = attempt(owner)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "the address is on a private network, which is not allowed"
    assert connections == []


def test_a_send_connects_to_the_address_it_checked_not_to_a_second_lookup(
    owner, receiver, dns, settings, connections
):
    """DNS rebinding: the name is public when checked, then points at the server's own network. The
    first answer is the only one used."""
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    settings.NOTIFY_MAX_ATTEMPTS = 1
    dns.table["rebind.example"] = [["93.184.216.34"]]
    port = receiver.url.rsplit(":", 1)[1]
    channel(owner, "webhook", {"url": f"http://rebind.example:{port}/hook", "secret": SECRET})
    dns.table["rebind.example"] = [["93.184.216.34"], ["127.0.0.1"]]
    dns.lookups.clear()

    delivery = attempt(owner)

    assert receiver.requests == []
    assert connections == ["93.184.216.34"]
    assert dns.lookups == ["rebind.example"]
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error.startswith("gave up after 1 attempts: network error (ConnectError)")


def test_a_pinned_send_still_names_the_host(owner, receiver, dns, connections):
    dns.table["receiver.example"] = [["127.0.0.1"]]
    port = receiver.url.rsplit(":", 1)[1]
    channel(owner, "webhook", {"url": f"http://receiver.example:{port}/hook", "secret": SECRET})

    assert attempt(owner).status == Delivery.Status.SENT
    [request] = receiver.requests
    assert request.headers["host"] == f"receiver.example:{port}"
    assert request.path == "/hook"
    assert connections == ["127.0.0.1"]


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(owner, receiver, dns, connections):
    dns.table["two.example"] = [["127.0.0.1", "::1"]]
    dns.table["two.example"][0].reverse()  # ::1 first: the receiver listens on 127.0.0.1 only
    port = receiver.url.rsplit(":", 1)[1]
    channel(owner, "webhook", {"url": f"http://two.example:{port}/hook", "secret": SECRET})

    assert attempt(owner).status == Delivery.Status.SENT
    assert connections == ["::1", "127.0.0.1"]
    assert len(receiver.requests) == 1


def test_an_unresolvable_host_fails_its_delivery_with_a_readable_reason(owner, dns, connections):
    webhook_to(owner, "https://no-such-host.example/hook?token=abc123")

    delivery = attempt(owner)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "the receiver's host name does not resolve"
    assert connections == []


def test_a_telegram_api_on_a_private_address_is_refused_by_default(owner, receiver, settings):
    settings.TELEGRAM_API_BASE = receiver.url
    channel(owner, "telegram", {"bot_token": TOKEN, "chat_id": "42"})
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False

    delivery = attempt(owner)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "the address is on a private network, which is not allowed"
    assert receiver.requests == []


# --- Input: the channel form -------------------------------------------------------------------


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def add_channel(client: Any, **fields: str) -> str:
    form = {"label": "x", "kinds": ["order_filled"], "webhook_secret": SECRET, **fields}
    response = client.post(reverse("notifications:channels"), form)
    assert response.status_code == 400
    assert not NotificationChannel.objects.exists()
    return str(response.content.decode())


def test_a_url_longer_than_2048_characters_is_refused_with_its_length(signed_in, dns):
    url = "https://hooks.example/" + "a" * 2027
    assert len(url) == 2049

    page = add_channel(signed_in, type="webhook", webhook_url=url)

    assert "This URL has 2049 characters; at most 2048 are allowed." in page


@pytest.mark.parametrize(
    "url",
    [
        "https://-bad-.example/hook",
        "https://a..b.example/hook",
        "https://under_score.example/hook",
        "https://" + "a" * 64 + ".example/hook",
        "https://127.1/hook",
        "https://2130706433/hook",
        "https://host.example:99999/hook",
        "https://[not-an-ip]/hook",
        "https://exa mple.example/hook",
        "https:///hook",
    ],
)
def test_an_invalid_host_is_refused_at_input_with_a_clear_error(signed_in, dns, url):
    page = add_channel(signed_in, type="webhook", webhook_url=url)

    assert any(
        message in page
        for message in (
            "The URL&#x27;s host is not a valid host name or IP address.",
            "Enter a full http:// or https:// URL (its host or port is malformed).",
            "A URL cannot contain spaces or control characters.",
            "Enter a full http:// or https:// URL.",
        )
    )


def test_an_international_host_name_is_accepted(owner, dns):
    dns.table["bücher.example"] = [["93.184.216.34"]]
    assert webhook_to(owner, "https://bücher.example/hook").config["url"] == "https://bücher.example/hook"


# --- Slack: only under SLACK_WEBHOOK_BASE ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com.evil.example/services/T0/B0/X",
        "http://hooks.slack.com/services/T0/B0/X",
        "https://hooks.slack.com:8443/services/T0/B0/X",
        "https://evil.example/hooks.slack.com/services/T0/B0/X",
    ],
)
def test_a_slack_url_outside_the_slack_base_is_a_form_error_naming_it(signed_in, dns, url):
    dns.table["hooks.slack.com"] = [["52.0.0.1"]]
    dns.table["hooks.slack.com.evil.example"] = [["52.0.0.2"]]
    dns.table["evil.example"] = [["52.0.0.3"]]

    page = add_channel(signed_in, type="slack", slack_url=url)

    assert "A Slack incoming-webhook URL starts with https://hooks.slack.com/" in page


def test_a_slack_url_under_the_base_is_accepted(owner, dns, settings):
    dns.table["hooks.slack.com"] = [["52.0.0.1"]]
    hook = channel(owner, "slack", {"url": "https://hooks.slack.com/services/T0/B0/X"})
    assert hook.config["url"] == "https://hooks.slack.com/services/T0/B0/X"


def test_the_slack_base_is_a_setting(owner, dns, settings):
    dns.table["slack.internal.example"] = [["52.0.0.1"]]
    settings.SLACK_WEBHOOK_BASE = "https://slack.internal.example/hooks/"

    with pytest.raises(ConfigError) as caught:
        channel(owner, "slack", {"url": "https://hooks.slack.com/services/T0/B0/X"})
    assert caught.value.message == (
        "A Slack incoming-webhook URL starts with https://slack.internal.example/hooks/"
    )
    assert channel(owner, "slack", {"url": "https://slack.internal.example/hooks/T0"}).pk


def test_a_slack_channel_saved_under_an_older_base_is_not_sent_to(owner, receiver, settings):
    channel(owner, "slack", {"url": f"{receiver.url}/services/T0/B0/X"})
    settings.SLACK_WEBHOOK_BASE = "https://hooks.slack.com/"

    delivery = attempt(owner)

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "the Slack URL is not under this installation's Slack webhook base"
    assert receiver.requests == []


def test_channel_create_refuses_what_the_form_refuses(owner):
    with pytest.raises(ConfigError) as caught:
        channel_create(
            user=owner,
            type="webhook",
            label="x",
            kinds=["error"],
            config={"url": "https://" + "a" * 2100 + ".example/", "secret": SECRET},
        )
    assert caught.value.field == "url"
    assert "at most 2048 are allowed" in caught.value.message


# --- Input refuses what a send refuses: one check of where a URL may go ------------------------

# (url, refused by default) against the resolver table below; each of these is checked both ways.
AGREEMENT = [
    ("http://[::ffff:10.0.0.1%25eth0]/hook", True),  # an IPv6 zone id
    ("http://[2606:4700::1%25eth0]/hook", True),  # a zone id on a public address
    ("http://localhost./hook", True),  # RFC 6761: localhost names are the loopback
    ("http://LOCALHOST/hook", True),
    ("http://foo.localhost/hook", True),
    ("http://foo.localhost.:8080/hook", True),
    ("http://public.example:0/hook", True),  # port 0
    ("http://[::ffff:10.0.0.1]/hook", True),
    ("http://private.example/hook", True),
    ("http://public.example./hook", False),  # a trailing dot on an ordinary name changes nothing
    ("http://public.example:8443/hook", False),
    ("http://[2606:4700::1]/hook", False),
    ("http://notlocalhost.example/hook", False),
]


@pytest.fixture
def table(dns: Resolver) -> Resolver:
    for name in ("public.example", "public.example.", "notlocalhost.example"):
        dns.table[name] = [["93.184.216.34"]]
    dns.table["private.example"] = [["10.0.0.7"]]
    return dns


@pytest.mark.parametrize(("url", "refused"), AGREEMENT)
def test_the_channel_form_refuses_exactly_what_a_send_would_refuse(
    owner, table, settings, connections, url, refused
):
    settings.NOTIFY_ALLOW_PRIVATE_URLS = False
    try:
        webhook_to(owner, url)
    except ConfigError as exc:
        refused_at_input = exc.field == "url"
    else:
        refused_at_input = False
        NotificationChannel.objects.all().delete()

    # The same URL saved under NOTIFY_ALLOW_PRIVATE_URLS (or before this check), then sent to.
    NotificationChannel(
        user=owner, type="webhook", label="x", kinds=["error"], config={"url": url, "secret": SECRET}
    ).save()
    delivery = attempt(owner)
    refused_at_send = delivery.status == Delivery.Status.FAILED and connections == []

    assert (refused_at_input, refused_at_send) == (refused, refused)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://[::ffff:10.0.0.1%25eth0]/",
            "An IPv6 zone id (the %… after the address) names one of this server&#x27;s own network "
            "interfaces, which a receiver cannot be on.",
        ),
        ("http://localhost./", "This address is on a private network"),
        ("http://foo.localhost/", "This address is on a private network"),
        ("http://example.com:0/", "Port 0 cannot be a receiver&#x27;s port."),
    ],
)
def test_the_trial_users_private_urls_are_form_errors(signed_in, dns, url, message):
    page = add_channel(signed_in, type="webhook", webhook_url=url)

    assert message in page


def test_a_localhost_name_is_sent_to_the_loopback_when_private_urls_are_allowed(
    owner, receiver, dns, connections
):
    port = receiver.url.rsplit(":", 1)[1]
    webhook_to(owner, f"http://hooks.localhost.:{port}/hook")

    assert attempt(owner).status == Delivery.Status.SENT
    assert dns.lookups == []  # never asked DNS
    assert connections == ["127.0.0.1"]
    assert receiver.requests[0].headers["host"] == f"hooks.localhost.:{port}"


@pytest.mark.parametrize("url", ["http://[::1%25lo]:{port}/hook", "http://127.0.0.1:0/hook"])
def test_a_zone_id_or_port_0_is_refused_even_where_private_urls_are_allowed(owner, receiver, url):
    """Neither can reach a receiver: a send would refuse them, so the form does too."""
    port = receiver.url.rsplit(":", 1)[1]
    with pytest.raises(ConfigError) as caught:
        webhook_to(owner, url.format(port=port))
    assert caught.value.field == "url"


# --- Credentials in a URL ----------------------------------------------------------------------

USERINFO_ERROR = "A URL here cannot hold a user name or password (user:pass@)"


@pytest.mark.parametrize(
    ("fields"),
    [
        {"type": "webhook", "webhook_url": "http://user:pass@public.example/"},
        {"type": "webhook", "webhook_url": "https://token@public.example/hook"},
        {"type": "webhook", "webhook_url": "https://:pass@public.example/hook"},
        {"type": "slack", "slack_url": "https://someone@hooks.slack.com/services/T0/B0/X"},
    ],
)
def test_a_url_with_a_user_name_or_password_is_a_form_error(signed_in, table, fields):
    table.table["hooks.slack.com"] = [["52.0.0.1"]]

    page = add_channel(signed_in, **fields)

    assert USERINFO_ERROR in page
