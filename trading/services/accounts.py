"""Trading accounts (paper/live), MEXC API keys and live balances."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import BruteError
from trading import crypto, realtime
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.types import Balance as BalanceValue
from trading.exchanges import (
    keyed_client,
    live_builder,
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
    if mode == Mode.LIVE:
        # After the commit, outside any transaction: the account is read from MEXC afresh, since it
        # may have changed (deposits, trades elsewhere) while the user traded on paper.
        balances_sync(user_id=user.pk)
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
    asked = timezone.now()
    balances = api_credential_verify(api_key=api_key, api_secret=api_secret)
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
        # The check read the whole account already: those are the live balances, with no second call.
        balances_write(user_id=user.pk, balances=balances, asked=asked)
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


def balances_write(*, user_id: int, balances: list[BalanceValue], asked: datetime) -> None:
    """MEXC's whole account, read at `asked`, as the user's live Balance rows: assets it lists are
    written, the others deleted, and the key marked as read. A row the user-data stream wrote after
    `asked` holds newer news than this read and is left as it is."""
    now = timezone.now()
    live = Balance.objects.filter(user_id=user_id, mode=Mode.LIVE)
    with transaction.atomic():
        for b in balances:
            values = {"free": b.free, "locked": b.locked, "updated": now}
            rows = live.filter(asset=b.asset)
            if rows.filter(updated__lt=asked).update(**values) or rows.exists():
                continue
            try:
                with transaction.atomic():
                    Balance.objects.create(user_id=user_id, mode=Mode.LIVE, asset=b.asset, **values)
            except IntegrityError:  # the stream created it meanwhile, with newer figures
                pass
        live.filter(updated__lt=asked).exclude(asset__in=[b.asset for b in balances]).delete()
        ApiCredential.objects.filter(user_id=user_id).update(balances_synced_at=now, balances_sync_error="")
        realtime.balance_changed(user_id, Mode.LIVE)


def _balances_sync_failed(*, user_id: int, problem: str) -> None:
    """Keeps the last balances read (never zeroes them) and records why this read failed, so pages
    say it in words. `problem` is the exchange error's sentence, which never carries the keys."""
    ApiCredential.objects.filter(user_id=user_id).update(balances_sync_error=problem[:300])
    realtime.balance_changed(user_id, Mode.LIVE)


def balances_sync(*, user_id: int) -> bool:
    """Read the user's whole MEXC account (GET /api/v3/account) into their live Balance rows; True
    when read. A failure is recorded on the key and logged, never raised: a stale balance must never
    undo an order already recorded, and the periodic sync goes on to the next account."""
    credential = ApiCredential.objects.filter(user_id=user_id).first()
    if credential is None:
        return False

    async def fetch(exchange: Exchange) -> list[BalanceValue]:
        return await exchange.balances()

    asked = timezone.now()
    try:
        balances = run(live_builder(credential), fetch)
    except xerr.ExchangeError as exc:
        log.warning("live balances of user %s not read from MEXC: %s", user_id, exc)
        _balances_sync_failed(user_id=user_id, problem=str(exc))
        return False
    balances_write(user_id=user_id, balances=balances, asked=asked)
    return True


def live_balances_sync_all() -> int:
    """Re-read the balances of every live account with a key, one account call each (MEXC allows an
    account 2 a second; this asks once per run), in case the user-data stream missed a change.
    Returns how many accounts were read."""
    live = ApiCredential.objects.filter(user__trading_account__mode=Mode.LIVE)
    read = 0
    for user_id in list(live.values_list("user_id", flat=True)):
        try:
            if balances_sync(user_id=user_id):
                read += 1
        except Exception:  # one account's surprise must not starve the others of their sync
            log.exception("live balances of user %s not synced", user_id)
    return read


def api_credential_test(*, user: User) -> ApiCredential:
    """Check the stored key against the exchange again (keys get revoked or lose permissions); the
    account's balances come with the answer. A refusal is recorded as the balances' sync problem."""
    credential = ApiCredential.objects.filter(user=user).first()
    if credential is None:
        raise refuse("live_requires_keys", "No MEXC API key is saved", 404)
    asked = timezone.now()
    try:
        balances = api_credential_verify(
            api_key=crypto.decrypt(credential.api_key_encrypted),
            api_secret=crypto.decrypt(credential.api_secret_encrypted),
        )
    except BruteError as error:
        _balances_sync_failed(user_id=user.pk, problem=error.message)
        raise
    with transaction.atomic():
        credential.verified_at = timezone.now()
        credential.save(update_fields=["verified_at", "updated"])
        balances_write(user_id=user.pk, balances=balances, asked=asked)
    credential.refresh_from_db()
    return credential


def favourite_toggle(*, user: User, symbol: str) -> bool:
    """Star or unstar a market; returns whether it is now a favourite."""
    with transaction.atomic():
        deleted, _ = FavouriteSymbol.objects.filter(user=user, symbol=symbol).delete()
        if not deleted:
            FavouriteSymbol.objects.get_or_create(user=user, symbol=symbol)
    return not deleted
