"""Choosing a user's exchange (paper or MEXC), the process's exchange hub, and the one sync-to-async
boundary.

Every MEXC call of the process goes through one `ExchangeHub` (`hub()`): one public session, one
session per API key, one TLS context, one clock offset and one rate limiter shared by every caller
(orders, the sniper, the symbol sync, page and API reads). The builders below hand out proxies of
the hub's sessions, which any event loop can await; closing them is a no-op.

Services are sync Django code; exchange adapters are async. `run()` is the bridge: it runs one
action on a short-lived loop in the caller's thread (so the paper store's database calls stay in
the caller's transaction), and the action's MEXC calls hop onto the hub loop.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import DecimalField, Model, Q, QuerySet
from django.utils import timezone

from accounts.notifications.services import operator_notify
from config.db import run_atomic_retry
from config.prepared import PreparedInsert
from config.sqlite.base import writer_turn
from trading import crypto
from trading.exchange.base import Exchange
from trading.exchange.errors import ExchangeUnavailable, InsufficientBalance, InvalidSymbol, OrderRejected
from trading.exchange.hub import ExchangeHub, HubStatus, SessionProxy
from trading.exchange.mexc_ws import DEFAULT_WS_URL
from trading.exchange.paper import PaperExchange, PaperOrder, SharedBooks
from trading.exchange.ratelimit import RateLimiter, SharedBudget
from trading.exchange.types import (
    Balance as BalanceValue,
)
from trading.exchange.types import (
    Fill as FillValue,
)
from trading.exchange.types import (
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
    SymbolRules,
    SymbolStatus,
    TradeSides,
)
from trading.feed import local_books
from trading.models import ApiCredential, Balance, Fill, Mode, Order, Symbol

log = logging.getLogger(__name__)
T = TypeVar("T")

# httpcore asks `import sniffio` on every lock it makes, several a request; where sniffio is not
# installed each of those failed imports searched the whole sys.path again, about a quarter of the
# hub thread's CPU for a paper order's depth request (issue 11). A None entry makes the import fail
# at once, as Python documents for sys.modules; httpcore then assumes asyncio, as it did anyway.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]
ExchangeBuilder = Callable[[], Exchange]
UNPLACED = (Order.Status.PENDING, Order.Status.REJECTED)


def run(build: ExchangeBuilder, action: Callable[[Exchange], Awaitable[T]]) -> T:
    """Run one async `action` against the exchange `build` gives, from sync code. Hub sessions are
    shared and stay open; anything else `build` makes is closed afterwards."""

    async def go() -> T:
        exchange = build()
        try:
            return await action(exchange)
        finally:
            await exchange.aclose()

    return async_to_sync(go)()


def mexc_base_url() -> str:
    return settings.MEXC_BASE_URL or "https://api.mexc.com"


def mexc_ws_url() -> str:
    return settings.MEXC_WS_URL or DEFAULT_WS_URL


# ---- the process's exchange hub ---------------------------------------------------------------------

_hub: ExchangeHub | None = None
_hub_lock = threading.Lock()
BLOCKED_KEY = "brute:mexc:blocked"


def hub() -> ExchangeHub:
    """The process's one exchange hub, built on first use from MEXC_BASE_URL/MEXC_WS_URL (rebuilt if
    they change, which only tests do)."""
    global _hub
    base, ws = mexc_base_url(), mexc_ws_url()
    with _hub_lock:
        if _hub is None or _hub.closed or (_hub.base_url, _hub.ws_url) != (base, ws):
            old, _hub = (
                _hub,
                ExchangeHub(base_url=base, ws_url=ws, limiter=_limiter(), on_block=exchange_blocked),
            )
            if old is not None:
                old.close()
        return _hub


def _limiter() -> RateLimiter:
    """With REDIS_URL the weight budget, 429 pauses and 418 bans are shared by every process of the
    install (one Lua script per acquire); without it each process paces itself."""
    if settings.REDIS_URL:
        return RateLimiter(shared=SharedBudget(settings.REDIS_URL))
    return RateLimiter()


def hub_close() -> None:
    global _hub
    with _hub_lock:
        old, _hub = _hub, None
    if old is not None:
        old.close()


def exchange_blocked(kind: str, seconds: float) -> None:
    """The hub's `on_block`: MEXC answered 429 (kind "rate_limited") or 418 ("banned"). Recorded in
    the cache for /healthz and the pages of every process; a ban also reaches the operators' inbox
    (once per ban). Runs on the hub loop, so the slow part goes to a thread."""
    until = timezone.now() + timedelta(seconds=seconds)
    threading.Thread(target=_record_block, args=(kind, until, seconds), daemon=True).start()


def _record_block(kind: str, until: datetime, seconds: float) -> None:
    try:
        previous = cache.get(BLOCKED_KEY)
        banned = isinstance(previous, dict) and previous.get("kind") == "banned" and kind != "banned"
        if banned and datetime.fromisoformat(previous["until"]) > until:
            return  # a 429 seen during a ban does not shorten what the pages say
        cache.set(BLOCKED_KEY, {"kind": kind, "until": until.isoformat()}, timeout=max(1, int(seconds) + 1))
        if kind == "banned" and cache.add(f"{BLOCKED_KEY}:notified", "1", timeout=max(1, int(seconds))):
            operator_notify(
                kind="error",
                title="MEXC banned this server's IP (HTTP 418)",
                body=f"Every exchange call is stopped for {seconds:.0f} s, until {until:%H:%M:%S} UTC. "
                "Brute sends nothing meanwhile; repeated bans grow longer.",
                level="error",
            )
    except Exception:
        log.exception("could not record the exchange's %s", kind)


def exchange_block() -> dict[str, Any] | None:
    """{"kind": "banned" | "rate_limited", "until": iso, "seconds": left} while MEXC refuses this
    server (any process saw it), else None. For pages and /healthz."""
    found = cache.get(BLOCKED_KEY)
    if not isinstance(found, dict):
        return None
    left = (datetime.fromisoformat(found["until"]) - timezone.now()).total_seconds()
    return {**found, "seconds": round(left, 1)} if left > 0 else None


def hub_status() -> HubStatus | None:
    """This process's hub state, if it has one."""
    return _hub.status() if _hub is not None and not _hub.closed else None


def public_client() -> SessionProxy:
    """The public session of the process's hub."""
    h = hub()
    return h.proxy(h.public())


def keyed_client(api_key: str, api_secret: str) -> SessionProxy:
    """The hub session of one API key."""
    h = hub()
    return h.proxy(h.account(api_key, api_secret))


USERSTREAM_KEY = "brute:userstream:{user_id}"
USERSTREAM_FRESH_S = 30


def userstream_alive(user_id: int) -> bool:
    """A user-data stream consumer (any process) holds a subscribed stream for this user's key, so
    order fates, fills and balances arrive as events: placement then skips the read-back."""
    seen = cache.get(USERSTREAM_KEY.format(user_id=user_id))
    return isinstance(seen, float | int) and timezone.now().timestamp() - seen < USERSTREAM_FRESH_S


_keys: dict[tuple[int, str], tuple[str, str]] = {}


def credential_keys(credential: ApiCredential) -> tuple[str, str]:
    """The decrypted (key, secret), decrypted once per credential version and process."""
    ref = (credential.pk, credential.api_key_encrypted + credential.api_secret_encrypted)
    if ref not in _keys:
        _keys[ref] = (
            crypto.decrypt(credential.api_key_encrypted),
            crypto.decrypt(credential.api_secret_encrypted),
        )
    return _keys[ref]


def live_builder(credential: ApiCredential) -> ExchangeBuilder:
    api_key, api_secret = credential_keys(credential)
    confirm = not userstream_alive(credential.user_id)

    def build() -> Exchange:
        h = hub()
        return h.proxy(h.account(api_key, api_secret), confirm_reads=confirm)

    return build


# Per exchange URL: paper orders of this process waiting on the same REST book share its request.
_shared_books: dict[str, SharedBooks] = {}
_shared_books_lock = threading.Lock()


PAPER_BOOK_DEPTH = 100  # levels a side a paper order can fill against (PaperExchange's default)
BOOK_TIMEOUT_S = 30.0


def _shared_books_here() -> SharedBooks:
    with _shared_books_lock:
        return _shared_books.setdefault(mexc_base_url(), SharedBooks())


def paper_book(symbol: str, depth: int = PAPER_BOOK_DEPTH) -> OrderBook:
    """The order book a paper order fills against, for synchronous callers (no event loop of their
    own): the market feed's book when this process holds it in sync, else one REST depth request on
    the hub loop, shared with the other paper orders of this process waiting for the same symbol.
    Raises the exchange's errors; ExchangeUnavailable when no answer came within BOOK_TIMEOUT_S."""
    book = local_books.book(symbol, depth)
    if book is not None:
        return book
    h = hub()
    session = h.public()
    try:
        book, _ = _shared_books_here().depth_blocking(
            symbol, depth, lambda: h.submit(session.depth(symbol, limit=depth)), BOOK_TIMEOUT_S
        )
    except TimeoutError:
        raise ExchangeUnavailable(f"No order book for {symbol} within {BOOK_TIMEOUT_S:.0f} s") from None
    return book


def paper_builder(user_id: int, *, source: str = Order.Source.API) -> ExchangeBuilder:
    """The paper exchange of one user; orders it creates are recorded with `source`."""

    def build() -> Exchange:
        return PaperExchange(
            public_client(),
            DjangoPaperStore(user_id, source=source),
            rules=rules_from_db,
            books=local_books.book,
            shared=_shared_books_here(),
        )

    return build


def exchange_builder(user_id: int, mode: str) -> ExchangeBuilder:
    """The adapter for a user's account in `mode`; callers have already checked live is allowed."""
    if mode == Mode.LIVE:
        return live_builder(ApiCredential.objects.get(user_id=user_id))
    return paper_builder(user_id)


# ---- symbols: database rows <-> exchange rules ------------------------------------------------------


def symbol_to_rules(sym: Symbol) -> SymbolRules:
    return SymbolRules(
        symbol=sym.symbol,
        base_asset=sym.base_asset,
        quote_asset=sym.quote_asset,
        status=SymbolStatus(sym.status),
        api_tradable=sym.api_tradable,
        spot_trading_allowed=sym.spot_allowed,
        trade_sides=TradeSides(sym.trade_sides)
        if sym.trade_sides in TradeSides._value2member_map_
        else TradeSides.ALL,
        price_decimals=sym.price_precision,
        quantity_decimals=sym.quantity_precision,
        min_quantity=sym.min_quantity,
        min_notional=sym.min_notional,
        min_notional_market=sym.min_notional_market,
        max_notional=sym.max_notional,
        max_notional_market=sym.max_notional_market,
        maker_commission=sym.maker_commission,
        taker_commission=sym.taker_commission,
        order_types=frozenset(OrderType(t) for t in sym.order_types if t in OrderType._value2member_map_),
    )


# Symbol rows (and their rules) by name, as last read in this process, each with the `updated` it had.
_symbols: dict[str, tuple[object, Symbol, SymbolRules]] = {}
_SYMBOL_STAMP = 'SELECT "updated" FROM {table} WHERE "symbol" = %s'


def symbol_with_rules(name: str) -> tuple[Symbol, SymbolRules] | None:
    """The Symbol row called `name` and its rules, or None. Every write to a Symbol row moves its
    `updated` (auto_now, and the sync's bulk writes and offline marks set it too), so one indexed
    read of that column tells whether the row this process read before is still current: the full
    row is read (and its rules built) again only after a change. Read-only: callers share them."""
    with connection.cursor() as cursor:
        cursor.execute(_SYMBOL_STAMP.format(table=connection.ops.quote_name(Symbol._meta.db_table)), [name])
        found = cursor.fetchone()
    if found is None:
        _symbols.pop(name, None)
        return None
    cached = _symbols.get(name)
    if cached is not None and cached[0] == found[0]:
        return cached[1], cached[2]
    sym = Symbol.objects.filter(symbol=name).first()
    if sym is None:
        return None
    rules = symbol_to_rules(sym)
    # The stamp read first: a change committed between the two reads only makes the next call re-read.
    _symbols[name] = (found[0], sym, rules)
    return sym, rules


@sync_to_async
def rules_from_db(symbol: str) -> SymbolRules:
    sym = Symbol.objects.filter(symbol=symbol).first()
    if sym is None:
        raise InvalidSymbol(symbol=symbol)
    return symbol_to_rules(sym)


# ---- the paper store over Order, Fill and Balance rows ----------------------------------------------


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def fill_row(order: Order, fill: FillValue) -> Fill:
    """The (unsaved) Fill row of one exchange fill of `order`."""
    return Fill(
        order=order,
        trade_id=fill.trade_id,
        price=fill.price,
        qty=fill.quantity,
        quote_qty=fill.quote_quantity,
        commission=fill.commission,
        commission_asset=fill.commission_asset,
        is_maker=fill.is_maker,
        time=ms_to_dt(fill.time_ms),
    )


def fills_store(order: Order, fills: Iterable[FillValue]) -> None:
    """Saves the fills of `order`; one stored already (the same trade id) stays as it was."""
    Fill.objects.bulk_create([fill_row(order, fill) for fill in fills], ignore_conflicts=True)


def dt_to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def paper_order_of(row: Order) -> PaperOrder:
    return PaperOrder(
        symbol=row.symbol,
        order_id=row.exchange_order_id,
        client_order_id=row.client_order_id,
        side=Side(row.side),
        type=OrderType(row.type),
        price=row.price,
        quantity=row.quantity,
        quote_quantity=row.quote_quantity,
        status=OrderStatus(row.status),
        executed=row.executed_qty,
        cum_quote=row.cummulative_quote_qty,
        time_ms=dt_to_ms(row.created),
        update_ms=dt_to_ms(row.updated),
    )


def fill_value_of(row: Fill) -> FillValue:
    order = row.order
    return FillValue(
        symbol=order.symbol,
        trade_id=row.trade_id,
        order_id=order.exchange_order_id,
        client_order_id=order.client_order_id,
        side=Side(order.side),
        price=row.price,
        quantity=row.qty,
        quote_quantity=row.quote_qty,
        commission=row.commission,
        commission_asset=row.commission_asset,
        is_maker=row.is_maker,
        time_ms=dt_to_ms(row.time),
    )


def paper_columns(order: PaperOrder) -> dict[str, Any]:
    """The columns of `order`'s paper Order row but its owner, mode and source: what was asked and
    (`paper_outcome`) what came of it."""
    return {
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "client_order_id": order.client_order_id,
        "quantity": order.quantity,
        "quote_quantity": order.quote_quantity,
        "price": order.price,
        **paper_outcome(order),
    }


def paper_outcome(order: PaperOrder) -> dict[str, Any]:
    """The columns of a paper Order row that a fill or a cancel changes."""
    return {
        "exchange_order_id": order.order_id,
        "status": order.status.value,
        "executed_qty": order.executed,
        "cummulative_quote_qty": order.cum_quote,
        "avg_price": order.state().average_price,
    }


_WIDE = Context(prec=80)


def as_stored(row: Model) -> None:
    """Rounds the decimals of a row just saved to their columns' places (half-even), as reading it
    back would give them, so the caller need not read it back."""
    for field in row._meta.concrete_fields:
        if isinstance(field, DecimalField) and isinstance(field.decimal_places, int):
            value = getattr(row, field.attname)
            if isinstance(value, Decimal):
                quantum = Decimal(1).scaleb(-field.decimal_places)
                setattr(row, field.attname, value.quantize(quantum, context=_WIDE))


# The paper writes of this process take turns on this lock before their BEGIN IMMEDIATE. A thread
# waiting on it wakes as soon as it is free (and waits without the GIL), where SQLite's busy handler
# sleeps 1, 2, 5, ... up to 100 ms between tries: under load a writer slept on long after the
# database was free, and the threads of one worker queued in no order (issue 11, the p99).
_paper_writes = threading.Lock()
WRITE_SWITCH_S = 0.0002


@contextmanager
def paper_write_turn() -> Iterator[None]:
    """This process's turn to write paper orders, fills and balances (one writer at a time), and
    on the embedded file the turn among processes (config/sqlite writer_turn)."""
    with _paper_writes, writer_turn():
        # The writer drops the GIL at every statement; while it holds the database, whichever thread
        # took the GIL meanwhile hands it back within WRITE_SWITCH_S instead of Python's 5 ms.
        usual = sys.getswitchinterval()
        sys.setswitchinterval(min(usual, WRITE_SWITCH_S))
        try:
            yield
        finally:
            sys.setswitchinterval(usual)


def _in_turn(write: Callable[[], T]) -> T:
    """`write` in its own transaction (config/db.py: retried whole when busy), in this process's
    paper write turn. Inside a caller's transaction it runs at once: that transaction may hold the
    database's write lock already, and another thread waiting for it here would hold the turn
    meanwhile."""
    if connection.in_atomic_block:
        return run_atomic_retry(write)
    with paper_write_turn():
        return run_atomic_retry(write)


_BALANCE_INSERT = PreparedInsert(Balance)


def paper_balances(user_id: int, assets: list[str]) -> dict[str, tuple[int, Decimal, Decimal]]:
    """{asset: (row id, free, locked)} of the user's paper balances in `assets`."""
    free: Any = Balance._meta.get_field("free")
    locked: Any = Balance._meta.get_field("locked")
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')}, {quote('asset')}, {quote(free.column)}, {quote(locked.column)} "  # noqa: S608
        f"FROM {quote(Balance._meta.db_table)} WHERE {quote('user_id')} = %s AND {quote('mode')} = %s "
        f"AND {quote('asset')} IN ({', '.join(['%s'] * len(assets))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, Mode.PAPER.value, *assets])
        rows = cursor.fetchall()
    return {
        asset: (pk, free.from_db_value(f, None, connection), locked.from_db_value(held, None, connection))
        for pk, asset, f, held in rows
    }


def _balance_write(pk: int, free: Decimal, locked: Decimal, now: datetime) -> None:
    """The new amounts of one balance row, stored as `save(update_fields=...)` would store them."""
    fields: list[Any] = [Balance._meta.get_field(name) for name in ("free", "locked", "updated")]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(Balance._meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{quote(f.column)} = %s" for f in fields)
        + f" WHERE {quote('id')} = %s"
    )
    params = [
        f.get_db_prep_save(value, connection) for f, value in zip(fields, (free, locked, now), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])


class OrderChanged(OrderRejected):
    """The order's row changed between the paper exchange's read and its write (a fill and a cancel
    raced); nothing of this step was written."""


class DjangoPaperStore:
    """`PaperStore` for one user: the paper exchange's orders are the user's own paper Order rows.

    `commit` is the whole placement (or fill, or cancel) in one IMMEDIATE write transaction: the
    Order row, its new fills and the balances, each row written once. Live events and notifications
    are the caller's, after the commit."""

    def __init__(self, user_id: int, *, source: str = Order.Source.API) -> None:
        self.user_id = user_id
        self.source = source

    def _orders(self) -> QuerySet[Order]:
        return Order.objects.filter(user_id=self.user_id, mode=Mode.PAPER).exclude(status__in=UNPLACED)

    @sync_to_async
    def balances(self) -> list[BalanceValue]:
        rows = Balance.objects.filter(user_id=self.user_id, mode=Mode.PAPER)
        return [BalanceValue(b.asset, b.free, b.locked) for b in rows]

    @sync_to_async
    def find_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> PaperOrder | None:
        ref = Q(exchange_order_id=order_id) if order_id else Q(client_order_id=client_order_id)
        row = self._orders().filter(ref, symbol=symbol).first()
        return paper_order_of(row) if row else None

    @sync_to_async
    def open_orders(self, symbol: str | None = None) -> list[PaperOrder]:
        rows = self._orders().filter(status__in=Order.OPEN_STATUSES)
        if symbol:
            rows = rows.filter(symbol=symbol)
        return [paper_order_of(r) for r in rows.order_by("created", "id")]

    @sync_to_async
    def fills(self, symbol: str, *, order_id: str | None = None, limit: int = 100) -> list[FillValue]:
        rows = Fill.objects.select_related("order").filter(
            order__user_id=self.user_id, order__mode=Mode.PAPER, order__symbol=symbol
        )
        if order_id:
            rows = rows.filter(order__exchange_order_id=order_id)
        return [fill_value_of(f) for f in rows.order_by("-time", "-id")[:limit]]

    @sync_to_async
    def commit(
        self, order: PaperOrder, fills: Sequence[FillValue], changes: Mapping[str, tuple[Decimal, Decimal]]
    ) -> None:
        # A busy database (sqld took the lock back, or the file's busy timeout ran out) rolled the
        # whole step back: it runs again whole, from its first read (config/db.py).
        _in_turn(lambda: self._commit(order, fills, changes))

    def _commit(
        self, order: PaperOrder, fills: Sequence[FillValue], changes: Mapping[str, tuple[Decimal, Decimal]]
    ) -> None:
        row = self._save_order(order, fills)
        self._apply(order.symbol, changes)
        fills_store(row, fills)

    def _apply(self, symbol: str, changes: Mapping[str, tuple[Decimal, Decimal]]) -> None:
        # Inside the IMMEDIATE transaction nobody else writes, so read-check-write is safe, and a
        # new asset's row is inserted once with its final amounts. One read for every asset, in
        # SQL written once (it runs on every paper order; config/prepared.py says why).
        if not changes:
            return
        held = paper_balances(self.user_id, list(changes))
        now = timezone.now()
        for asset, (free, locked) in sorted(changes.items()):
            pk, had_free, had_locked = held.get(asset, (None, Decimal(0), Decimal(0)))
            if had_free + free < 0 or had_locked + locked < 0:
                raise InsufficientBalance(
                    f"Not enough {asset}: {had_free.normalize():f} available, {(-free).normalize():f} needed",
                    symbol=symbol,
                )
            if pk is None:
                _BALANCE_INSERT.insert(
                    Balance(user_id=self.user_id, mode=Mode.PAPER, asset=asset, free=free, locked=locked)
                )
            else:
                _balance_write(pk, had_free + free, had_locked + locked, now)

    def _save_order(self, order: PaperOrder, fills: Sequence[FillValue]) -> Order:
        fields = paper_outcome(order)
        row, created = Order.objects.get_or_create(
            client_order_id=order.client_order_id,
            defaults={
                "user_id": self.user_id,
                "mode": Mode.PAPER,
                "source": self.source,
                **paper_columns(order),
            },
        )
        if row.user_id != self.user_id:
            raise InsufficientBalance("client order id belongs to another account")
        if not created:
            # The exchange read this order before the transaction began: if a fill or a cancel
            # committed since, applying this step on top would count funds twice.
            before = order.executed - sum((f.quantity for f in fills), Decimal(0))
            if row.status not in Order.OPEN_STATUSES or row.executed_qty != before:
                raise OrderChanged("The order changed meanwhile; nothing was written", symbol=order.symbol)
            for name, value in fields.items():
                setattr(row, name, value)
            row.save(update_fields=[*fields, "updated"])
        return row
