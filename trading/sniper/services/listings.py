"""The listing watcher: the new-coin calendar and the symbol diffs into Listing rows and their events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.notifications.services import notification_send
from trading.exchange import errors as xerr
from trading.exchange.base import Exchange
from trading.exchange.types import SymbolRules
from trading.exchanges import public_client, run
from trading.models import FavouriteSymbol, Symbol, SymbolEvent
from trading.services.symbols import _symbol_fields
from trading.sniper import realtime
from trading.sniper.calendar import CalendarCoin
from trading.sniper.models import Listing, ListingEvent, Rule

log = logging.getLogger(__name__)
State = Listing.State
# A coin the calendar announced that has not opened this long after its time has failed.
FAIL_AFTER = timedelta(hours=6)
EVENT_LOOKBACK = timedelta(days=2)
QUOTE = "USDT"


def listing_state_of(symbol: Symbol | None) -> str | None:
    """What the exchange says of the symbol now: None when it is not in exchangeInfo at all."""
    if symbol is None:
        return None
    if symbol.status == "3":
        return State.FAILED
    return State.TRADING if symbol.is_trading and symbol.api_allowed else State.LISTED


# Forward moves only: a listing that trades stays trading; a failed one may still list and open later.
ALLOWED = {
    State.EXPECTED: {State.LISTED, State.TRADING, State.FAILED},
    State.LISTED: {State.TRADING, State.FAILED},
    State.FAILED: {State.LISTED, State.TRADING},
    State.TRADING: set(),
}


def listing_transition(*, listing: Listing, to: str, detail: str = "") -> bool:
    """Move a listing to `to` once: a conditional UPDATE, so two watchers that see the same change
    record one event. Returns whether this call made the move."""
    old = listing.state
    if to not in ALLOWED[State(old)]:
        return False
    now = timezone.now()
    fields: dict[str, object] = {"state": to, "updated": now}
    if to == State.TRADING:
        fields["opened_at"] = now
    with transaction.atomic():
        if not Listing.objects.filter(pk=listing.pk, state=old).update(**fields):
            return False
        for name, value in fields.items():
            setattr(listing, name, value)
        _announce(listing, old, detail)
    return True


def _announce(listing: Listing, old: str, detail: str) -> None:
    ListingEvent.objects.create(listing=listing, old_state=old, new_state=listing.state, detail=detail[:255])
    users = listing_watchers(symbol=listing.symbol)
    when = f" (expected {listing.expected_open:%Y-%m-%d %H:%M} UTC)" if listing.expected_open else ""
    for user in users:
        notification_send(
            user=user,
            kind="listing_state",
            title=f"{listing.symbol} is {listing.get_state_display().lower()}",
            body=f"{listing.symbol} {old or 'new'} -> {listing.state}{when}. {detail}".strip(),
            data={"listing": listing.pk, "symbol": listing.symbol, "state": listing.state},
            level="success" if listing.state == State.TRADING else "info",
        )
    realtime.push([u.pk for u in users], listing_payload(listing))


def listing_payload(listing: Listing) -> dict[str, object]:
    return {
        "type": "listing",
        "id": listing.pk,
        "symbol": listing.symbol,
        "state": listing.state,
        "expected_open": _ms(listing.expected_open),
        "opened_at": _ms(listing.opened_at),
    }


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def listing_watchers(*, symbol: str) -> list[User]:
    """Users with an enabled rule on new listings or on this symbol, or who favourite it."""
    rule_users = Rule.objects.filter(Q(any_new_listing=True) | Q(symbol=symbol), enabled=True).values("user")
    fav_users = FavouriteSymbol.objects.filter(symbol=symbol).values("user")
    return list(User.objects.filter(Q(pk__in=rule_users) | Q(pk__in=fav_users)).order_by("pk"))


def _create(*, symbol: str, base: str, state: str, source: str, **extra: object) -> Listing | None:
    with transaction.atomic():
        listing, created = Listing.objects.get_or_create(
            symbol=symbol, defaults={"base_asset": base, "state": state, "source": source, **extra}
        )
        if created:
            if state == State.TRADING:
                listing.opened_at = timezone.now()
                listing.save(update_fields=["opened_at"])
            _announce(listing, "", f"seen in the {listing.get_source_display()}")
    return listing if created else None


def listings_from_calendar(*, coins: Sequence[CalendarCoin]) -> int:
    """Record announced coins; updates the expected open time of coins not yet trading. Returns how
    many listings were created or changed."""
    changed = 0
    for coin in coins:
        symbol = coin.symbol(QUOTE)
        listing = Listing.objects.filter(symbol=symbol).first()
        if listing is None:
            state = listing_state_of(Symbol.objects.filter(symbol=symbol).first()) or State.EXPECTED
            extra = {"name": coin.name, "coin_id": coin.coin_id, "expected_open": coin.opens_at}
            if state != State.FAILED:
                changed += (
                    _create(symbol=symbol, base=coin.ticker, state=state, source="calendar", **extra)
                    is not None
                )
            continue
        updates = {"name": coin.name or listing.name, "coin_id": coin.coin_id or listing.coin_id}
        if coin.opens_at and listing.state != State.TRADING:
            updates["expected_open"] = coin.opens_at  # type: ignore[assignment]
        if any(getattr(listing, k) != v for k, v in updates.items()):
            Listing.objects.filter(pk=listing.pk).update(**updates, updated=timezone.now())
            changed += 1
    return changed


def listings_from_symbols(*, now: datetime | None = None) -> list[Listing]:
    """Bring listings in line with the Symbol rows that `symbols_sync` (or a sniper probe) keeps: new
    symbols become listings, status and API-tradable changes move them. Idempotent. Returns the
    listings that just opened for trading."""
    now = now or timezone.now()
    recent = SymbolEvent.objects.filter(at__gte=now - EVENT_LOOKBACK)
    new_names = set(recent.filter(kind=SymbolEvent.Kind.NEW).values_list("symbol", flat=True))
    known = set(Listing.objects.filter(symbol__in=new_names).values_list("symbol", flat=True))
    opened: list[Listing] = []
    for row in Symbol.objects.filter(symbol__in=new_names - known):
        state = listing_state_of(row)
        assert state is not None
        listing = _create(symbol=row.symbol, base=row.base_asset, state=state, source="exchange")
        if listing is not None and state == State.TRADING:
            opened.append(listing)
    pending = Listing.objects.exclude(state=State.TRADING)
    symbols = {s.symbol: s for s in Symbol.objects.filter(symbol__in=pending.values("symbol"))}
    for listing in pending:
        opened += _follow(listing, symbols.get(listing.symbol), now)
    return opened


def _follow(listing: Listing, symbol: Symbol | None, now: datetime) -> list[Listing]:
    target = listing_state_of(symbol)
    if target is None:
        late = listing.expected_open is not None and now - listing.expected_open > FAIL_AFTER
        if late and listing.state == State.EXPECTED:
            listing_transition(listing=listing, to=State.FAILED, detail="did not list in time")
        return []
    if target == listing.state:
        return []
    moved = listing_transition(listing=listing, to=target, detail="exchangeInfo/defaultSymbols")
    return [listing] if moved and target == State.TRADING else []


def symbol_refresh(*, symbol: str) -> Symbol | None:
    """One symbol's exchangeInfo + defaultSymbols into its Symbol row, recording the change events
    `symbols_sync` would (a partial sync must not run: it would mark every other symbol removed)."""

    async def fetch(exchange: Exchange) -> list[SymbolRules]:
        return await exchange.symbols([symbol])

    try:
        found = run(public_client, fetch)
    except xerr.ExchangeError as exc:
        log.info("symbol %s not refreshed: %s", symbol, exc)
        return Symbol.objects.filter(symbol=symbol).first()
    return symbol_upsert(rules=found[0]) if found else None


def symbol_upsert(*, rules: SymbolRules) -> Symbol:
    fields = _symbol_fields(rules)
    now = timezone.now()
    with transaction.atomic():
        row = Symbol.objects.filter(symbol=rules.symbol).first()
        if row is None:
            # As in symbols_sync: the first symbol ever loaded is no news (nothing to diff against).
            first = not Symbol.objects.exists()
            row = Symbol.objects.create(symbol=rules.symbol, first_seen=now, listed_at=now, **fields)
            if not first:
                SymbolEvent.objects.create(
                    kind=SymbolEvent.Kind.NEW, symbol=row.symbol, new=row.status, at=now
                )
            return row
        events = []
        if row.status != fields["status"]:
            events.append(("status", row.status, str(fields["status"])))
        if row.api_tradable != fields["api_tradable"]:
            events.append(
                ("api_tradable", str(row.api_tradable).lower(), str(fields["api_tradable"]).lower())
            )
        for kind, old, new in events:
            SymbolEvent.objects.create(kind=kind, symbol=row.symbol, old=old, new=new, at=now)
        if any(getattr(row, k) != v for k, v in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
    return row


def listing_open_window(*, now: datetime | None = None) -> list[Listing]:
    """Listings the sniper should probe closely: not trading, expected to open within the lead time
    or past it within the retry window, or listed with no known time."""
    now = now or timezone.now()
    lead = timedelta(seconds=settings.SNIPER_PROBE_LEAD_S)
    tail = timedelta(seconds=settings.SNIPER_PROBE_TAIL_S)
    near = Q(expected_open__gte=now - tail, expected_open__lte=now + lead)
    return list(
        Listing.objects.filter(near | Q(state=State.LISTED, expected_open__isnull=True))
        .exclude(state__in=[State.TRADING, State.FAILED])
        .order_by("expected_open")
    )
