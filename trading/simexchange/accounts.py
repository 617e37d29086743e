"""Accounts, API keys, listen keys and the balances that orders lock and fills move."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from trading.simexchange.matching import Order

ZERO = Decimal(0)
ALL_PERMISSIONS = frozenset({"SPOT_DEAL_WRITE", "SPOT_DEAL_READ", "SPOT_ACCOUNT_READ"})
LISTEN_KEY_TTL_MS = 60 * 60_000
# The documented demo pair: "mx0" + 15 characters, and 32 lowercase hex characters.
DEMO_API_KEY = "mx0BruteDemoKey001"
DEMO_API_SECRET = "b7e1d0c5a4f3e2d1c0b9a8f7e6d5c4b3"
DEMO_BALANCES = {"USDT": Decimal(10_000), "BTC": Decimal("0.25"), "ETH": Decimal(3)}


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class MyTrade:
    symbol: str
    trade_id: str
    order: Order
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    is_self_trade: bool

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass(eq=False)
class Account:
    uid: str
    balances: dict[str, Balance] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    trades: list[MyTrade] = field(default_factory=list)
    # Orders that may still be open; pruned on read so the 500-order cap check stays cheap.
    live: list[Order] = field(default_factory=list)

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def lock(self, asset: str, amount: Decimal) -> None:
        balance = self.balance(asset)
        balance.free -= amount
        balance.locked += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        self.lock(asset, -amount)

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.live.append(order)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        self.live = [o for o in self.live if o.is_open]
        return [o for o in self.live if symbol in (None, o.symbol)]

    def find_order(self, symbol: str, order_id: str | None, client_id: str | None) -> Order | None:
        if order_id:
            order = self.orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        matches = [o for o in self.orders.values() if o.symbol == symbol and o.client_order_id == client_id]
        return matches[-1] if matches else None


@dataclass(frozen=True)
class ApiKey:
    key: str
    secret: str
    account: Account
    permissions: frozenset[str] = ALL_PERMISSIONS


@dataclass
class Registry:
    keys: dict[str, ApiKey] = field(default_factory=dict)
    listen_keys: dict[str, tuple[Account, int]] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)

    def add_account(
        self,
        *,
        api_key: str,
        api_secret: str,
        balances: dict[str, Decimal],
        permissions: frozenset[str] = ALL_PERMISSIONS,
    ) -> Account:
        account = Account(uid=f"{len(self.accounts) + 1:08d}")
        for asset, amount in balances.items():
            account.balance(asset).free = amount
        self.accounts.append(account)
        self.keys[api_key] = ApiKey(api_key, api_secret, account, permissions)
        return account

    def add_key(
        self, *, account: Account, api_key: str, api_secret: str, permissions: frozenset[str]
    ) -> None:
        self.keys[api_key] = ApiKey(api_key, api_secret, account, permissions)

    def new_listen_key(self, account: Account, now: int) -> str:
        key = secrets.token_hex(32)
        self.listen_keys[key] = (account, now + LISTEN_KEY_TTL_MS)
        return key

    def listen_key_account(self, key: str, now: int) -> Account | None:
        entry = self.listen_keys.get(key)
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def extend_listen_key(self, key: str, account: Account, now: int) -> bool:
        if self.listen_key_account(key, now) is not account:
            return False
        self.listen_keys[key] = (account, now + LISTEN_KEY_TTL_MS)
        return True

    def account_listen_keys(self, account: Account, now: int) -> list[str]:
        return [k for k, (a, expires) in self.listen_keys.items() if a is account and expires >= now]
