"""Signed-request verification in MEXC's order: signature, time window, key and permission."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from trading.simexchange import errors
from trading.simexchange.accounts import ApiKey, Registry

KEY_FORMAT = re.compile(r"^mx0[A-Za-z0-9]{15}$")
DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
# A client clock this far ahead of the server is refused (docs: timestamp < serverTime + 1000).
MAX_CLOCK_LEAD = 1000


def sign(secret: str, total_params: str) -> str:
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> tuple[str, str | None]:
    """The raw text without its ``signature=`` pair, and the signature (None when absent)."""
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def signed_text(raw_query: str, raw_body: str) -> tuple[str, str | None]:
    """MEXC signs the query string and the body concatenated with nothing in between."""
    query, from_query = strip_signature(raw_query)
    body, from_body = (
        strip_signature(raw_body) if "=" in raw_body and "{" not in raw_body else (raw_body, None)
    )
    return query + body, from_query or from_body


def verify(
    *,
    registry: Registry,
    api_key: str | None,
    raw_query: str,
    raw_body: str,
    params: Mapping[str, str],
    permission: str,
    now: int,
) -> ApiKey:
    if not api_key:
        raise errors.api_key_required()
    text, signature = signed_text(raw_query, raw_body)
    if not signature:
        raise errors.missing_signature()
    if not KEY_FORMAT.match(api_key):
        raise errors.bad_key_format()
    key = registry.keys.get(api_key)
    if key is None:
        # Without a known key there is no secret to check the signature against.
        raise errors.unknown_key()
    if not hmac.compare_digest(sign(key.secret, text), signature.lower()):
        raise errors.bad_signature()
    check_time_window(params, now)
    if permission not in key.permissions:
        raise errors.no_permission()
    return key


def check_time_window(params: Mapping[str, str], now: int) -> None:
    try:
        timestamp = int(params.get("timestamp") or "")
        window = int(params.get("recvWindow") or DEFAULT_RECV_WINDOW)
    except ValueError as exc:
        raise errors.stale_timestamp() from exc
    if window > MAX_RECV_WINDOW:
        raise errors.recv_window_too_big()
    if not (timestamp < now + MAX_CLOCK_LEAD and now - timestamp <= window):
        raise errors.stale_timestamp()
