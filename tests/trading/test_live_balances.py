"""Live balances are MEXC's whole account, read from the bundled exchange over real HTTP: when keys are
saved or tested, on switching to live, when the user-data stream connects and every few minutes; a
read still pending or failed is said in words, never shown as zero."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from config.errors import BruteError
from tests.conftest import wait_for
from tests.factories import UserFactory
from trading import crypto, selectors, services, tasks
from trading.exchange.events import BalanceUpdate
from trading.exchange.types import Balance as BalanceValue
from trading.exchanges import hub, userstream_alive
from trading.models import ApiCredential, Balance, TradingAccount
from trading.services.userstream import balance_event_apply
from trading.simexchange.testing import SimExchangeThread
from trading.userstream import UserStreams

pytestmark = pytest.mark.django_db

DEMO_ACCOUNT = {"USDT": Decimal(10_000), "BTC": Decimal("0.25"), "ETH": Decimal(3)}
LOADING = "Loading balances from MEXC…"


def live_rows(user: User) -> dict[str, Decimal]:
    return {b.asset: b.free for b in Balance.objects.filter(user=user, mode="live")}


def keys_saved_unread(user: User, api_key: str, api_secret: str, *, mode: str = "live") -> ApiCredential:
    """A key stored as before balances were read on saving (or one MEXC has revoked since): checked,
    its account never read."""
    credential = ApiCredential.objects.create(
        user=user,
        api_key_encrypted=crypto.encrypt(api_key),
        api_secret_encrypted=crypto.encrypt(api_secret),
        key_hint=crypto.mask(api_key),
        verified_at=timezone.now(),
        can_trade=True,
    )
    services.trading_account_get_or_create(user=user)
    TradingAccount.objects.filter(user=user).update(mode=mode)
    return credential


# ---- when the account is read -----------------------------------------------------------------------


def test_saving_keys_loads_the_whole_mexc_account(synced: SimExchangeThread, trader: User) -> None:
    services.api_credential_save(user=trader, api_key=synced.api_key, api_secret=synced.api_secret)

    assert live_rows(trader) == DEMO_ACCOUNT
    state = selectors.live_balances_state(user=trader)
    assert state is not None
    assert state.synced_at is not None
    assert (state.loading, state.problem) == (False, "")


def test_switching_to_live_reads_the_account_again(synced: SimExchangeThread, trader: User) -> None:
    services.api_credential_save(user=trader, api_key=synced.api_key, api_secret=synced.api_secret)
    synced.set_balance("BTC", Decimal("1.5"))  # bought on MEXC's own site while the user was on paper

    services.trading_mode_set(user=trader, mode="live")

    assert live_rows(trader)["BTC"] == Decimal("1.5")


def test_testing_the_keys_reads_the_account_again(synced: SimExchangeThread, trader: User) -> None:
    services.api_credential_save(user=trader, api_key=synced.api_key, api_secret=synced.api_secret)
    synced.set_balance("ETH", Decimal(7))

    services.api_credential_test(user=trader)

    assert live_rows(trader)["ETH"] == Decimal(7)


def test_a_live_buy_keeps_the_coins_held_before_it(synced: SimExchangeThread, live_trader: User) -> None:
    order = services.order_place(
        user=live_trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="50"
    )

    rows = live_rows(live_trader)
    assert rows["SOL"] == order.executed_qty
    assert rows["USDT"] == DEMO_ACCOUNT["USDT"] - order.cummulative_quote_qty
    assert (rows["BTC"], rows["ETH"]) == (DEMO_ACCOUNT["BTC"], DEMO_ACCOUNT["ETH"])


@pytest.mark.django_db(transaction=True)
def test_the_user_stream_reads_the_whole_account_when_it_connects(
    synced: SimExchangeThread, trader: User
) -> None:
    keys_saved_unread(trader, synced.api_key, synced.api_secret)
    consumer = UserStreams(hub(), rescan_s=0.5)
    running = hub().submit(consumer.run())
    try:
        wait_for(lambda: userstream_alive(trader.pk))
        wait_for(lambda: live_rows(trader) == DEMO_ACCOUNT)
    finally:
        running.cancel()
        time.sleep(0.2)
    state = selectors.live_balances_state(user=trader)
    assert state is not None
    assert state.synced_at is not None


def test_the_periodic_sync_reads_every_live_account_and_no_paper_one(
    synced: SimExchangeThread, trader: User, other_trader: User
) -> None:
    keys_saved_unread(trader, synced.api_key, synced.api_secret)
    synced.add_account("mx0SecondAcctKey01", "c" * 32, {"USDT": Decimal(42), "XRP": Decimal(5)})
    keys_saved_unread(other_trader, "mx0SecondAcctKey01", "c" * 32)
    on_paper = UserFactory()
    keys_saved_unread(on_paper, synced.api_key, synced.api_secret, mode="paper")

    assert tasks.live_balances_sync() == 2

    assert live_rows(trader) == DEMO_ACCOUNT
    assert live_rows(other_trader) == {"USDT": Decimal(42), "XRP": Decimal(5)}
    assert live_rows(on_paper) == {}
    assert ApiCredential.objects.get(user=on_paper).balances_synced_at is None


def test_an_asset_sold_off_elsewhere_disappears_on_the_next_read(
    synced: SimExchangeThread, live_trader: User
) -> None:
    synced.set_balance("ETH", Decimal(0))

    assert services.balances_sync(user_id=live_trader.pk)

    assert "ETH" not in {b.asset for b in selectors.balances_for_user(user=live_trader)}
    assert live_rows(live_trader)["BTC"] == DEMO_ACCOUNT["BTC"]


def test_a_stream_update_newer_than_the_read_is_kept(synced: SimExchangeThread, live_trader: User) -> None:
    asked = timezone.now()  # the read leaves for MEXC; the stream's news lands before its answer
    news = BalanceUpdate("BTC", Decimal("0.3"), Decimal(0), Decimal("0.05"), Decimal(0), "DEPOSIT", 0)
    balance_event_apply(user_id=live_trader.pk, event=news)
    stale = [BalanceValue("BTC", Decimal("0.25"), Decimal(0)), BalanceValue("USDT", Decimal(9), Decimal(0))]

    services.balances_write(user_id=live_trader.pk, balances=stale, asked=asked)

    rows = live_rows(live_trader)
    assert rows["BTC"] == Decimal("0.3")
    assert rows["USDT"] == Decimal(9)


# ---- when the read fails ----------------------------------------------------------------------------


def test_an_exchange_outage_keeps_the_last_balances_and_says_why(
    synced: SimExchangeThread, live_trader: User, caplog: pytest.LogCaptureFixture
) -> None:
    synced.set_balance("BTC", Decimal(9))
    synced.fail_next("/api/v3/account", method="GET", status=503, count=5)  # the read and its 4 retries

    with caplog.at_level(logging.DEBUG):
        assert not services.balances_sync(user_id=live_trader.pk)

    assert live_rows(live_trader) == DEMO_ACCOUNT  # the last read, not zeros
    state = selectors.live_balances_state(user=live_trader)
    assert state is not None
    assert "MEXC is unavailable" in state.problem
    assert not state.unknown
    assert "MEXC is unavailable" in caplog.text
    assert synced.api_secret not in caplog.text
    assert synced.api_key not in caplog.text

    assert services.balances_sync(user_id=live_trader.pk)  # MEXC is back
    assert live_rows(live_trader)["BTC"] == Decimal(9)
    assert ApiCredential.objects.get(user=live_trader).balances_sync_error == ""


def test_a_revoked_key_is_said_in_words_and_does_not_stop_the_others(
    synced: SimExchangeThread, trader: User, other_trader: User, caplog: pytest.LogCaptureFixture
) -> None:
    revoked_secret = "d" * 32
    keys_saved_unread(trader, "mx0RevokedKey00001", revoked_secret)
    keys_saved_unread(other_trader, synced.api_key, synced.api_secret)

    with caplog.at_level(logging.DEBUG):
        assert tasks.live_balances_sync() == 1

    assert live_rows(other_trader) == DEMO_ACCOUNT
    assert live_rows(trader) == {}
    state = selectors.live_balances_state(user=trader)
    assert state is not None
    assert state.unknown
    assert not state.loading
    assert "does not recognise this API key" in state.problem
    assert revoked_secret not in caplog.text
    assert "mx0RevokedKey00001" not in caplog.text


def test_testing_a_revoked_key_refuses_and_records_why(synced: SimExchangeThread, trader: User) -> None:
    keys_saved_unread(trader, "mx0RevokedKey00001", "d" * 32)

    with pytest.raises(BruteError) as caught:
        services.api_credential_test(user=trader)

    assert caught.value.code == "invalid_api_key"
    assert "does not recognise this API key" in ApiCredential.objects.get(user=trader).balances_sync_error


# ---- what pages and the API show --------------------------------------------------------------------


def test_the_market_page_says_balances_are_loading_instead_of_zero(
    client: Client, synced: SimExchangeThread, trader: User
) -> None:
    keys_saved_unread(trader, synced.api_key, synced.api_secret)
    client.force_login(trader)

    page = client.get("/markets/SOLUSDT/").content.decode()
    assert LOADING in page
    assert "Available:" not in page
    portfolio = client.get("/portfolio/").content.decode()
    assert LOADING in portfolio
    assert "Nothing held yet" not in portfolio

    services.balances_sync(user_id=trader.pk)

    fragment = client.get("/markets/SOLUSDT/?fragment=balances", headers={"HX-Request": "true"})
    text = fragment.content.decode()
    assert LOADING not in text
    assert 'data-available="USDT">10,000.00</span>' in text
    assert 'data-available="SOL">0.00</span>' in text  # none held: a figure read from MEXC


def test_pages_say_in_words_why_balances_could_not_be_loaded(
    client: Client, synced: SimExchangeThread, trader: User
) -> None:
    keys_saved_unread(trader, "mx0RevokedKey00001", "d" * 32)
    services.balances_sync(user_id=trader.pk)
    client.force_login(trader)

    said = "Balances could not be loaded from MEXC: MEXC does not recognise this API key"
    for url in ("/markets/SOLUSDT/", "/portfolio/", "/"):
        page = client.get(url).content.decode()
        assert said in page, url
        assert LOADING not in page, url
    assert "Available:" not in client.get("/markets/SOLUSDT/").content.decode()
    settings_page = client.get("/settings/").content.decode()
    assert "The latest read of your balances from MEXC failed: MEXC does not recognise" in settings_page


def test_the_balances_api_lists_the_whole_account_once_live(
    client: Client, synced: SimExchangeThread, live_trader: User
) -> None:
    client.force_login(live_trader)

    body = client.get("/api/v1/balances").json()

    assert body["mode"] == "live"
    assert {b["asset"]: Decimal(str(b["free"])) for b in body["balances"]} == DEMO_ACCOUNT
