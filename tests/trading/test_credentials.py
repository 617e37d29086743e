from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import User
from config.errors import BruteError
from trading import crypto, services
from trading.models import ApiCredential, TradingAccount
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db


def test_keys_are_encrypted_at_rest_and_only_shown_masked(mexc: SimExchangeThread, trader: User) -> None:
    credential = services.api_credential_save(user=trader, api_key=mexc.api_key, api_secret=mexc.api_secret)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted, api_secret_encrypted FROM trading_apicredential WHERE id = %s",
            [credential.pk],
        )
        raw_key, raw_secret = cursor.fetchone()
    assert mexc.api_secret not in raw_secret
    assert mexc.api_key not in raw_key
    assert crypto.decrypt(raw_secret) == mexc.api_secret
    assert credential.masked == "mx0B…01"
    for shown in (str(credential), repr(credential)):
        assert mexc.api_secret not in shown
        assert mexc.api_key not in shown
    assert credential.verified_at is not None


@pytest.mark.parametrize(
    ("key", "secret", "hint"),
    [
        ("mx0NotAKeyAtAll", None, "does not recognise this API key"),
        (None, "0" * 32, "signature"),
    ],
)
def test_a_key_the_exchange_rejects_is_not_saved(
    mexc: SimExchangeThread, trader: User, key: str | None, secret: str | None, hint: str
) -> None:
    with pytest.raises(BruteError) as caught:
        services.api_credential_save(
            user=trader, api_key=key or mexc.api_key, api_secret=secret or mexc.api_secret
        )
    assert caught.value.code == "invalid_api_key"
    assert hint in caught.value.message
    assert (secret or "") not in caught.value.message or not secret
    assert not ApiCredential.objects.exists()


def test_deleting_the_key_puts_a_live_account_back_on_paper(
    synced: SimExchangeThread, live_trader: User
) -> None:
    services.api_credential_delete(user=live_trader)
    assert TradingAccount.objects.get(user=live_trader).mode == "paper"
    assert not ApiCredential.objects.exists()
