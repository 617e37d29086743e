"""Delivery adapters: one function per channel type that sends one message and either returns or
raises DeliveryError. They know nothing of models, retries or rate limits (see services.py); they take
the channel's decrypted settings and a plain Message, so each can be tested alone."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import smtplib
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email as django_validate_email

SIGNATURE_HEADER = "X-Brute-Signature"
MAX_RETRY_AFTER = 3600.0
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    title: str
    body: str
    level: str
    created: str
    data: dict[str, Any] = field(default_factory=dict)
    recipient_email: str = ""

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}".strip()

    def payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.pop("recipient_email")
        return payload


class DeliveryError(Exception):
    """A send that did not go through. `reason` is safe to store and show: it never holds a URL,
    a token or a secret. `retryable` is False when sending again cannot help (a 4xx)."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.retryable = retryable
        self.retry_after = retry_after


class ConfigError(ValueError):
    """A channel's settings are unusable: `errors` maps every setting that is wrong to why (not only
    the first found), `field` and `message` are the first of them."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        self.field, self.message = next(iter(self.errors.items()))
        super().__init__(" ".join(self.errors.values()))


class Invalid(ValueError):
    """One setting's value is unusable; the message says why."""


# --- Settings validation ------------------------------------------------------------------------

MAX_URL_LENGTH = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _http_url(value: str) -> str:
    """A user's http(s) URL, checked as the form takes it; raises Invalid. Its destination is checked
    by `destination`, the very check each send makes."""
    value = (value or "").strip()
    if len(value) > MAX_URL_LENGTH:
        raise Invalid(f"This URL has {len(value)} characters; at most {MAX_URL_LENGTH} are allowed.")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise Invalid("A URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number from 0 to 65535)
    except ValueError:
        raise Invalid(MALFORMED) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid("Enter a full http:// or https:// URL.")
    if "@" in parts.netloc:
        raise Invalid(USERINFO)
    if not parts.hostname or not valid_hostname(parts.hostname):
        raise Invalid("The URL's host is not a valid host name or IP address.")
    try:
        destination(value)
    except Unresolved:
        pass  # it may exist later: each send looks it up again, and fails while it does not resolve
    except Refused as exc:
        raise Invalid(exc.message) from None
    return value


def valid_hostname(hostname: str) -> bool:
    """An IP address, or a DNS name (internationalised names allowed) whose labels are letters, digits
    and inner hyphens, whose last label is not all digits (so "127.1" or "2130706433", which resolvers
    read as addresses, are not names)."""
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        pass
    try:
        name = hostname.encode("idna").decode("ascii").lower().removesuffix(".")
    except UnicodeError:
        return False
    labels = name.split(".")
    return len(name) <= 253 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _private_allowed() -> bool:
    # Users type these URLs; a private address would let one probe or reach the server's own network.
    return settings.NOTIFY_ALLOW_PRIVATE_URLS


def public_address(address: IPAddress) -> bool:
    """Whether `address` is on the public internet. An IPv6 address that carries an IPv4 one
    (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64) is judged by that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return public_address(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a link-local IPv6 address may carry a %zone


# --- Where a URL may send: one check, made at input and at each send ----------------------------

LOOPBACK: list[IPAddress] = [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
MALFORMED = "Enter a full http:// or https:// URL (its host or port is malformed)."
USERINFO = (
    "A URL here cannot hold a user name or password (user:pass@): it would show wherever the URL does. "
    "A signed webhook's receiver checks the signing secret (X-Brute-Signature) instead."
)
PRIVATE = "This address is on a private network, which this installation does not allow."


class Refused(DeliveryError):
    """A URL `destination` will not send to: `reason` for the delivery, `message` for the form."""

    def __init__(self, reason: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(reason, retryable=retryable)
        self.message = message


class Unresolved(Refused):
    """A host name that does not resolve (retryable: the resolver failed, not the name)."""


def localhost_name(host: str) -> bool:
    """Whether `host` is "localhost" or a name under it, with or without the final dot: the loopback
    by definition (RFC 6761 6.3), whatever a DNS server might answer."""
    name = host.lower().removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


def destination(url: str) -> tuple[httpx.URL, list[IPAddress]]:
    """Where a send to `url` connects: the URL as sent, and the addresses to try, looked up once, so a
    name cannot pass the check and then resolve elsewhere for the connection (DNS rebinding).

    The one check of a webhook, Slack or Telegram destination: each send makes it, and so does the
    channel form, which therefore refuses what a send would refuse (but lets a name that does not
    resolve yet pass). Raises Refused for a URL httpx cannot parse, port 0 or an IPv6 zone id (neither
    reaches a receiver), and, unless NOTIFY_ALLOW_PRIVATE_URLS, any non-public address; Unresolved for
    a name that does not resolve. localhost names are the loopback, without asking DNS."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        raise Refused("the receiver's URL is malformed", MALFORMED) from None
    if target.port == 0:
        raise Refused("the receiver's port is 0", "Port 0 cannot be a receiver's port.")
    if "%" in target.host:
        raise Refused(
            "the receiver's address carries an IPv6 zone id",
            "An IPv6 zone id (the %… after the address) names one of this server's own network "
            "interfaces, which a receiver cannot be on.",
        )
    addresses = _addresses(target)
    if not _private_allowed() and not all(public_address(address) for address in addresses):
        raise Refused("the address is on a private network, which is not allowed", PRIVATE)
    return target, addresses


def _addresses(url: httpx.URL) -> list[IPAddress]:
    literal = _ip_literal(url.host)
    if literal is not None:
        return [literal]
    if localhost_name(url.host):
        return list(LOOPBACK)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno == socket.EAI_AGAIN  # the resolver failed, not the name
        reason = "could not be looked up just now" if temporary else "does not resolve"
        raise Unresolved(f"the receiver's host name {reason}", "", retryable=temporary) from None
    except (OSError, UnicodeError):
        raise Unresolved("the receiver's host name does not resolve", "") from None
    return list(dict.fromkeys(_address(str(info[4][0])) for info in infos))


def _slack_url(url: str) -> bool:
    """Whether `url` is under SLACK_WEBHOOK_BASE: the same scheme, host and port, the path below."""
    base, parts = urlsplit(settings.SLACK_WEBHOOK_BASE), urlsplit(url)
    return (
        parts.scheme == base.scheme
        and parts.hostname == base.hostname
        and parts.port == base.port
        and parts.username is None
        and parts.path.startswith(base.path or "/")
    )


_TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,80}$")
_TELEGRAM_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,40})$")


def _settings(**checks: Callable[[], str]) -> dict[str, str]:
    """Each setting's own check run, every one of them: the cleaned settings, or ConfigError naming
    each setting that is wrong, so a form shows all its errors at once."""
    cleaned, errors = {}, {}
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except Invalid as exc:
            errors[name] = str(exc)
    if errors:
        raise ConfigError(errors)
    return cleaned


def _text(config: Mapping[str, Any], name: str) -> str:
    return str(config.get(name) or "").strip()


def _email_address(address: str) -> str:
    if address:
        try:
            django_validate_email(address)
        except ValidationError:
            raise Invalid("Enter a valid email address, or leave it empty.") from None
    return address


def _signing_secret(secret: str) -> str:
    if len(secret) < 16:
        raise Invalid("The signing secret must be at least 16 characters.")
    return secret


def _matching(pattern: re.Pattern[str], value: str, message: str) -> str:
    if not pattern.match(value):
        raise Invalid(message)
    return value


def _slack_webhook_url(value: str) -> str:
    url = _http_url(value)
    if not _slack_url(url):
        raise Invalid(f"A Slack incoming-webhook URL starts with {settings.SLACK_WEBHOOK_BASE}")
    return url


def validate_email(config: Mapping[str, Any]) -> dict[str, Any]:
    return _settings(address=lambda: _email_address(_text(config, "address")))


def validate_webhook(config: Mapping[str, Any]) -> dict[str, Any]:
    return _settings(
        url=lambda: _http_url(_text(config, "url")),
        secret=lambda: _signing_secret(_text(config, "secret")),
    )


def validate_telegram(config: Mapping[str, Any]) -> dict[str, Any]:
    return _settings(
        bot_token=lambda: _matching(
            _TELEGRAM_TOKEN,
            _text(config, "bot_token"),
            "A bot token looks like 123456789:AA… as given by @BotFather.",
        ),
        chat_id=lambda: _matching(
            _TELEGRAM_CHAT,
            _text(config, "chat_id"),
            "A chat id is a number (e.g. -1001234567890) or a @channelname.",
        ),
    )


def validate_slack(config: Mapping[str, Any]) -> dict[str, Any]:
    return _settings(url=lambda: _slack_webhook_url(_text(config, "url")))


# --- Masking for display ------------------------------------------------------------------------


def _tail(secret: str, keep: int = 4) -> str:
    return "•" * 6 + secret[-keep:] if len(secret) > keep * 2 else "•" * 8


def _masked_url(url: str) -> str:
    """The scheme and host of `url`; its path and query (a Slack webhook's is its secret) reduced to
    their last characters, and any user name and password (refused now, saved before) hidden."""
    parts = urlsplit(url)
    _userinfo, at, host = parts.netloc.rpartition("@")
    return f"{parts.scheme}://{'•' * 6 if at else ''}{at}{host}/…{_tail(parts.path + parts.query)}"


def mask(type_: str, config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, shown value) pairs: secrets and URL paths reduced to their last characters."""
    if type_ == "email":
        return [("Address", config.get("address") or "your account email")]
    if type_ == "webhook":
        return [("URL", _masked_url(config.get("url", ""))), ("Secret", _tail(config.get("secret", "")))]
    if type_ == "telegram":
        token = config.get("bot_token", "")
        return [("Bot", f"{token.split(':', 1)[0]}:{_tail(token)}"), ("Chat", config.get("chat_id", ""))]
    if type_ == "slack":
        return [("Webhook", _masked_url(config.get("url", "")))]
    return []


# --- Sending ------------------------------------------------------------------------------------


def _timeout() -> httpx.Timeout:
    seconds = settings.NOTIFY_HTTP_TIMEOUT
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return re.sub(r"https?://\S+", "[url]", text)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date, capped at an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def _post(url: str, *, content: bytes, headers: dict[str, str], secrets: list[str]) -> httpx.Response:
    target, addresses = destination(url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Brute-Notifications/1",
        **headers,
        "Host": target.netloc.decode("ascii"),
    }
    # TLS is for the name: SNI and the certificate check use it, though the connection goes to an address.
    named = target.scheme == "https" and _ip_literal(target.host) is None
    extensions = {"sni_hostname": target.host} if named else {}
    try:
        # No proxy from the environment: the connection goes to the address that was checked.
        with httpx.Client(timeout=_timeout(), follow_redirects=False, trust_env=False) as client:
            response = _post_to_first(client, target, addresses, content, headers, extensions)
    except httpx.HTTPError as exc:
        detail = redact(str(exc), secrets)
        raise DeliveryError(f"network error ({type(exc).__name__}): {detail}", retryable=True) from None
    if response.status_code == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        raise DeliveryError("HTTP 429: rate limited by the receiver", retryable=True, retry_after=wait)
    if response.status_code >= 500:
        raise DeliveryError(f"HTTP {response.status_code}: the receiver failed", retryable=True)
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {_reason(response, secrets)}", retryable=False)
    return response


MAX_ADDRESSES_TRIED = 3


def _post_to_first(
    client: httpx.Client,
    target: httpx.URL,
    addresses: list[IPAddress],
    content: bytes,
    headers: dict[str, str],
    extensions: dict[str, Any],
) -> httpx.Response:
    """POST to the first of `addresses` that accepts a connection (a name with an IPv6 address on a
    host without IPv6, say). Only a refused or timed-out connection moves on: nothing was sent."""
    tried = addresses[:MAX_ADDRESSES_TRIED]
    for n, address in enumerate(tried, start=1):
        pinned = target.copy_with(host=str(address))
        try:
            return client.post(pinned, content=content, headers=headers, extensions=extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            if n == len(tried):
                raise
    raise AssertionError("unreachable: _resolve returns at least one address")


def _reason(response: httpx.Response, secrets: list[str]) -> str:
    text = response.text.strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        text = str(body.get("description") or body.get("error") or body.get("message") or text)
    return redact(text[:160], secrets) or response.reason_phrase or "refused"


def _json(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def send_webhook(config: Mapping[str, Any], message: Message) -> None:
    body = _json(message.payload())
    timestamp = int(time.time())
    signature = f"t={timestamp},v1={sign(config['secret'], timestamp, body)}"
    _post(config["url"], content=body, headers={SIGNATURE_HEADER: signature}, secrets=_secrets(config))


def send_slack(config: Mapping[str, Any], message: Message) -> None:
    if not _slack_url(config["url"]):  # saved before SLACK_WEBHOOK_BASE changed
        raise DeliveryError(
            "the Slack URL is not under this installation's Slack webhook base", retryable=False
        )
    text = f"*{message.title}*\n{message.body}".strip()
    _post(config["url"], content=_json({"text": text}), headers={}, secrets=_secrets(config))


def send_telegram(config: Mapping[str, Any], message: Message) -> None:
    base = settings.TELEGRAM_API_BASE.rstrip("/")
    url = f"{base}/bot{config['bot_token']}/sendMessage"
    payload = {"chat_id": config["chat_id"], "text": message.text[:4096], "disable_web_page_preview": True}
    _post(url, content=_json(payload), headers={}, secrets=_secrets(config))


def send_email(config: Mapping[str, Any], message: Message) -> None:
    address = config.get("address") or message.recipient_email
    if not address:
        raise DeliveryError("no email address to send to", retryable=False)
    try:
        send_mail(f"[Brute] {message.title}"[:200], message.body or message.title, None, [address])
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError("the mail server refused the recipient address", retryable=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"mail server error ({type(exc).__name__})", retryable=True) from None


def _secrets(config: Mapping[str, Any]) -> list[str]:
    """What a delivery error must not repeat: every setting, and the parts of a URL that can be
    secret (a user name and password, a Slack webhook's path), longest first."""
    found = {str(value) for value in config.values() if value}
    for value in list(found):
        if value.startswith(("http://", "https://")):
            parts = urlsplit(value)
            found |= {parts.username or "", parts.password or "", parts.path.strip("/"), parts.query}
    return sorted(found - {""}, key=len, reverse=True)


Sender = Callable[[Mapping[str, Any], Message], None]
Validator = Callable[[Mapping[str, Any]], dict[str, Any]]

SENDERS: dict[str, Sender] = {
    "email": send_email,
    "webhook": send_webhook,
    "telegram": send_telegram,
    "slack": send_slack,
}
VALIDATORS: dict[str, Validator] = {
    "email": validate_email,
    "webhook": validate_webhook,
    "telegram": validate_telegram,
    "slack": validate_slack,
}
