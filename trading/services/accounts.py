"""Trading accounts (paper/live), MEXC API keys and live balances."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.errors import BruteError
from trading import crypto, realtime
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.types import Balance as BalanceValue
from trading.exchanges import (
    exchange_builder,
    keyed_client,
    run,
)
from trading.models import (
    PAPER_QUOTE_ASSET,
    ApiCredential,
    Balance,
    FavouriteSymbol,
    Mode,
    Order,
    TradingAccount,
)
from trading.positions import position_book

if TYPE_CHECKING:
    from accounts.models import User
from config.errors import refuse

log = logging.getLogger(__name__)


# ---- trading accounts and API keys ----------------------------------------------------------------


def trading_account_get_or_create(*, user: User) -> TradingAccount:
    """The user's account, created in paper mode with the default paper balance on first use."""
    account, created = TradingAccount.objects.get_or_create(user=user)
    if created:
        Balance.objects.get_or_create(
            user=user,
            mode=Mode.PAPER,
            asset=PAPER_QUOTE_ASSET,
            defaults={"free": account.paper_starting_balance},
        )
    return account


_ACCOUNT_MODE = 'SELECT "mode" FROM {table} WHERE "user_id" = %s'


def trading_account_mode(*, user: User) -> str:
    """The mode (paper or live) of the user's account, created as `trading_account_get_or_create`
    does on first use: one indexed read of one column, for the order path."""
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(TradingAccount._meta.db_table)
        cursor.execute(_ACCOUNT_MODE.format(table=table), [user.pk])
        found = cursor.fetchone()
    if found is None:
        return str(trading_account_get_or_create(user=user).mode)
    return str(found[0])


def paper_account_reset(*, user: User, starting_balance: Decimal | None = None) -> TradingAccount:
    """Back to a clean paper account: open paper orders cancelled, paper positions closed with their
    exit plans dropped (they would sell the fresh balance), balances replaced by the start amount."""
    if starting_balance is not None and starting_balance < 0:
        raise refuse("validation_error", "The starting balance cannot be negative", 422)
    with transaction.atomic():
        account = trading_account_get_or_create(user=user)
        if starting_balance is not None:
            account.paper_starting_balance = starting_balance
        account.paper_reset_at = timezone.now()
        account.save()
        open_orders = Order.objects.filter(user=user, mode=Mode.PAPER, status__in=Order.OPEN_STATUSES)
        open_orders.update(status=Order.Status.CANCELED, error="Paper account reset", updated=timezone.now())
        position_book().clear(user, Mode.PAPER)
        Balance.objects.filter(user=user, mode=Mode.PAPER).delete()
        Balance.objects.create(
            user=user,
            mode=Mode.PAPER,
            asset=PAPER_QUOTE_ASSET,
            free=account.paper_start_amount,
        )
        realtime.balance_changed(user.pk, Mode.PAPER)
        realtime.account_changed(user.pk)
    return account


def live_refusal(user: User) -> BruteError | None:
    if settings.MEXC_SIMULATED:
        return refuse(
            "live_disabled_on_simulated_market",
            "Live trading is disabled: this installation runs against a simulated market",
            403,
        )
    credential = ApiCredential.objects.filter(user=user, verified_at__isnull=False).first()
    if credential is None:
        return refuse("live_requires_keys", "Live trading needs a verified MEXC API key", 403)
    return None


def trading_mode_set(*, user: User, mode: str) -> TradingAccount:
    if mode not in Mode.values:
        raise refuse("validation_error", f"Unknown trading mode {mode!r}", 422)
    if mode == Mode.LIVE and (problem := live_refusal(user)) is not None:
        raise problem
    with transaction.atomic():
        account = trading_account_get_or_create(user=user)
        account.mode = mode
        account.save(update_fields=["mode", "updated"])
        realtime.account_changed(user.pk)
    return account


def api_credential_verify(*, api_key: str, api_secret: str) -> list[BalanceValue]:
    """A signed account call with these keys. Raises BruteError("invalid_api_key") when MEXC says no."""

    async def account(exchange: Exchange) -> list[BalanceValue]:
        return await exchange.balances()

    try:
        return run(lambda: keyed_client(api_key, api_secret), account)
    except xerr.AuthenticationError as exc:
        raise refuse("invalid_api_key", f"MEXC rejected this API key: {exc}", 422) from None
    except xerr.ExchangeError as exc:
        raise refuse("exchange_unavailable", f"Could not check the key with MEXC: {exc}", 503) from None


def api_credential_save(*, user: User, api_key: str, api_secret: str) -> ApiCredential:
    api_key, api_secret = api_key.strip(), api_secret.strip()
    if not api_key or not api_secret:
        raise refuse("validation_error", "Both the API key and the secret are required", 422)
    api_credential_verify(api_key=api_key, api_secret=api_secret)
    with transaction.atomic():
        credential, _ = ApiCredential.objects.update_or_create(
            user=user,
            defaults={
                "api_key_encrypted": crypto.encrypt(api_key),
                "api_secret_encrypted": crypto.encrypt(api_secret),
                "key_hint": crypto.mask(api_key),
                "verified_at": timezone.now(),
                "can_trade": True,
            },
        )
        realtime.account_changed(user.pk)
    log.info("MEXC API key %s saved for user %s", credential.key_hint, user.pk)
    return credential


def api_credential_delete(*, user: User) -> None:
    """Forget the key; a live account falls back to paper, since it can no longer trade."""
    with transaction.atomic():
        ApiCredential.objects.filter(user=user).delete()
        TradingAccount.objects.filter(user=user, mode=Mode.LIVE).update(
            mode=Mode.PAPER, updated=timezone.now()
        )
        realtime.account_changed(user.pk)


def balances_sync(*, user_id: int) -> None:
    """Replace the user's live Balance rows with MEXC's account balances. Failures are logged only:
    a stale balance must never undo an order already recorded."""
    credential = ApiCredential.objects.filter(user_id=user_id).first()
    if credential is None:
        return

    async def fetch(exchange: Exchange) -> list[BalanceValue]:
        return await exchange.balances()

    try:
        balances = run(exchange_builder(user_id, Mode.LIVE), fetch)
    except xerr.ExchangeError as exc:
        log.warning("live balances of user %s not refreshed: %s", user_id, exc)
        return
    with transaction.atomic():
        seen = []
        for b in balances:
            Balance.objects.update_or_create(
                user_id=user_id, mode=Mode.LIVE, asset=b.asset, defaults={"free": b.free, "locked": b.locked}
            )
            seen.append(b.asset)
        Balance.objects.filter(user_id=user_id, mode=Mode.LIVE).exclude(asset__in=seen).delete()
        realtime.balance_changed(user_id, Mode.LIVE)


def api_credential_test(*, user: User) -> ApiCredential:
    """Check the stored key against the exchange again (keys get revoked or lose permissions)."""
    credential = ApiCredential.objects.filter(user=user).first()
    if credential is None:
        raise refuse("live_requires_keys", "No MEXC API key is saved", 404)
    api_credential_verify(
        api_key=crypto.decrypt(credential.api_key_encrypted),
        api_secret=crypto.decrypt(credential.api_secret_encrypted),
    )
    credential.verified_at = timezone.now()
    credential.save(update_fields=["verified_at", "updated"])
    return credential


def favourite_toggle(*, user: User, symbol: str) -> bool:
    """Star or unstar a market; returns whether it is now a favourite."""
    with transaction.atomic():
        deleted, _ = FavouriteSymbol.objects.filter(user=user, symbol=symbol).delete()
        if not deleted:
            FavouriteSymbol.objects.get_or_create(user=user, symbol=symbol)
    return not deleted
