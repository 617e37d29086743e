"""A deliberately plain MEXC caller for the simulator's tests (not the app's client)."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from trading.simexchange.testing import SimExchangeThread


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Caller:
    def __init__(
        self, exchange: SimExchangeThread, *, key: str | None = None, secret: str | None = None
    ) -> None:
        self.exchange = exchange
        self.key = key or exchange.api_key
        self.secret = secret or exchange.api_secret
        self.http = httpx.Client(base_url=exchange.base_url, timeout=10)

    def public(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/v3/{path}", params=params)

    def signed(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        timestamp: int | None = None,
        body: str = "",
        signature: str | None = None,
        timeout: float = 10,
    ) -> httpx.Response:
        query = urlencode({**(params or {}), "timestamp": timestamp or int(time.time() * 1000)})
        digest = sign(self.secret, query + body) if signature is None else signature
        url = f"/api/v3/{path}?{query}&signature={digest}" if digest else f"/api/v3/{path}?{query}"
        headers = {"X-MEXC-APIKEY": self.key, "Content-Type": "application/json"}
        return self.http.request(method, url, content=body, headers=headers, timeout=timeout)

    def order(self, **params: Any) -> httpx.Response:
        return self.signed("POST", "order", params)

    def query(self, symbol: str, order_id: str) -> dict[str, Any]:
        return self.signed("GET", "order", {"symbol": symbol, "orderId": order_id}).json()

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        rows = self.signed("GET", "account").json()["balances"]
        return {r["asset"]: (Decimal(r["free"]), Decimal(r["locked"])) for r in rows}

    def book(self, symbol: str) -> dict[str, Any]:
        return self.public("depth", symbol=symbol, limit=50).json()
