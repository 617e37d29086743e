"""Writes of the trading core: symbols sync, trading accounts and keys, orders and reconciliation, risk
limits.

Callers import this package (`from trading import services`); the modules split it by subdomain.
"""

from trading.services.accounts import (
    api_credential_delete,
    api_credential_save,
    api_credential_test,
    api_credential_verify,
    balances_sync,
    balances_write,
    favourite_toggle,
    live_balances_sync_all,
    paper_account_reset,
    trading_account_get_or_create,
    trading_mode_set,
)
from trading.services.common import refuse
from trading.services.orders import (
    client_order_id_new,
    order_cancel,
    order_cancel_all,
    order_check,
    order_place,
    order_record,
    order_refresh,
    order_validate,
    orders_reconcile,
    paper_orders_match,
)
from trading.services.risk import risk_check, risk_limits_save
from trading.services.symbols import SymbolSyncResult, symbols_fetch, symbols_sync

__all__ = [
    "SymbolSyncResult",
    "api_credential_delete",
    "api_credential_save",
    "api_credential_test",
    "api_credential_verify",
    "balances_sync",
    "balances_write",
    "client_order_id_new",
    "favourite_toggle",
    "live_balances_sync_all",
    "order_cancel",
    "order_cancel_all",
    "order_check",
    "order_place",
    "order_record",
    "order_refresh",
    "order_validate",
    "orders_reconcile",
    "paper_account_reset",
    "paper_orders_match",
    "refuse",
    "risk_check",
    "risk_limits_save",
    "symbols_fetch",
    "symbols_sync",
    "trading_account_get_or_create",
    "trading_mode_set",
]
