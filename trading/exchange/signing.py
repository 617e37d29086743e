"""MEXC request signing: HMAC-SHA256 over the exact query string sent, lowercase hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import quote

Param = tuple[str, str]


def format_value(value: object) -> str:
    """Render a parameter the way MEXC parses it: Decimals in plain notation, never `1E-7`."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(params: Iterable[Param]) -> str:
    # MEXC verifies against the escaped text, and documents uppercase escapes (`,` -> %2C) and %20 for
    # spaces; `quote(safe="")` produces exactly that, leaving only unreserved characters bare.
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_query(secret: str, params: Iterable[Param]) -> str:
    """The full query string with `signature` appended last, as MEXC requires."""
    query = encode_query(params)
    return f"{query}&signature={sign(secret, query)}"
