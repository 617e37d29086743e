"""The process's exchange hub against the bundled exchange: shared sessions, one TLS context, one
limiter for every caller, a 418 that stops everyone, and no clock call per signed request."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from decimal import Decimal

import pytest

from trading.exchange import errors
from trading.exchange.hub import ExchangeHub, account_label
from trading.exchange.mexc_ws import StreamConfig
from trading.exchange.paper import MemoryPaperStore, PaperExchange, SharedBooks
from trading.exchange.types import OrderBook, OrderRequest, OrderType, Side
from trading.simexchange.config import SimConfig


@pytest.fixture
def hub(sim):
    h = ExchangeHub(
        base_url=sim.base_url,
        ws_url=sim.ws_url,
        retry_delay_s=0.05,
        stream_config=StreamConfig(backoff_initial_s=0.05, backoff_max_s=0.5),
    )
    yield h
    h.close()


def test_every_session_shares_one_tls_context_and_one_limiter(sim, hub):
    public = hub.public()
    accounts = [hub.account(sim.api_key, sim.api_secret), hub.account("other-key", "other-secret")]

    assert hub.public() is public
    assert hub.account(sim.api_key, sim.api_secret) is accounts[0]
    assert hub.ssl_builds == 1
    assert {id(s.limiter) for s in (public, *accounts)} == {id(hub.limiter)}
    assert accounts[0].account == account_label(sim.api_key) != sim.api_key
    assert hub.run(public.depth("BTCUSDT", limit=5)).bids


def test_sync_threads_and_other_event_loops_share_the_sessions(hub):
    books = []

    def from_a_thread() -> None:
        books.append(hub.run(hub.public().depth("BTCUSDT", limit=5)))

    async def from_another_loop() -> None:
        proxy = hub.proxy(hub.public())
        books.append(await proxy.depth("ETHUSDT", limit=5))
        await proxy.aclose()  # a no-op: the hub owns the session

    threads = [threading.Thread(target=from_a_thread) for _ in range(4)]
    for t in threads:
        t.start()
    asyncio.run(from_another_loop())
    for t in threads:
        t.join()

    assert len(books) == 5
    assert all(b.bids for b in books)
    assert hub.run(hub.public().depth("BTCUSDT", limit=5)).bids  # still open after the proxy's aclose


def test_signed_calls_use_the_background_clock_offset_and_a_market_order_is_one_request(sim, hub):
    session = hub.account(sim.api_key, sim.api_secret)
    hub.run(hub.public().sync_time())  # what the hub's background task does every 30 s
    assert hub.clock.offset_ms is not None

    for n in range(3):
        request = OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, f"brhub{n}", quote_quantity=Decimal(20))
        hub.run(session.place_order(request, confirm=False))

    assert dict(session.sent) == {"POST /api/v3/order": 3}


@pytest.fixture
def sim_config():
    # 20 weight per 10 s, and the second 429 within a minute earns a 2-minute ban.
    return SimConfig(
        rate_limit_weight=20, rate_limit_window=10.0, rate_limit_strikes=2, rate_limit_ban_seconds=120
    )


def test_a_418_stops_every_caller_and_nothing_is_sent_during_the_ban(sim, hub):
    blocks: list[str] = []
    hub.on_block = lambda kind, seconds: blocks.append(kind)
    hub.limiter.weight_per_window = 500  # the documented budget; this server is far stricter
    outcomes: list[str] = []
    sent_at_ban: list[int] = []

    def reader() -> None:
        for _ in range(10):
            try:
                hub.run(hub.proxy(hub.public()).depth("BTCUSDT", limit=5), timeout=60)
                outcomes.append("ok")
            except errors.IpBanned as exc:
                if exc.http_status == 418:
                    sent_at_ban.append(hub.requests_sent())
                outcomes.append("banned")
            except errors.RateLimited:
                outcomes.append("429")

    # Six callers (pages, the symbol sync, the sniper...) reading the book at once, 60 reads in all.
    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(outcomes) == 60
    assert sent_at_ban  # the ban came (requests already in flight may get 418s of their own)
    assert hub.requests_sent() == min(sent_at_ban)  # nothing at all was sent after the first 418
    # Once the ban is known every later call fails fast (one call per caller may have been in flight).
    first_ban = outcomes.index("banned")
    assert set(outcomes[first_ban + 6 :]) == {"banned"}, outcomes
    assert hub.status().state == "banned"
    assert hub.status().banned_for_s > 60
    assert "banned" in blocks


def test_paper_fills_come_from_the_book_in_memory_and_rest_only_without_one(sim, hub):
    book = hub.run(hub.public().depth("SOLUSDT", limit=100))
    memory = {"SOLUSDT": book}
    paper = PaperExchange(
        hub.proxy(hub.public()),
        MemoryPaperStore({"USDT": Decimal(1000)}),
        books=lambda symbol, depth: memory.get(symbol),
    )
    before = hub.public().sent["GET /api/v3/depth"]

    async def two_orders() -> None:
        await paper.place_order(
            OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "brpaper1", quote_quantity=Decimal(20))
        )
        memory.clear()  # the feed lost the book: REST is the fallback
        await paper.place_order(
            OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "brpaper2", quote_quantity=Decimal(20))
        )

    asyncio.run(two_orders())

    assert paper.book_reads == {"memory": 1, "rest": 1, "shared": 0}
    assert hub.public().sent["GET /api/v3/depth"] == before + 1


class SlowDepth:
    """The hub's public session, its depth answered 0.3 s late and its requests counted."""

    def __init__(self, market):
        self.market = market
        self.requests = 0

    def __getattr__(self, name):
        return getattr(self.market, name)

    async def depth(self, symbol, limit=100):
        self.requests += 1
        await asyncio.sleep(0.3)
        return await self.market.depth(symbol, limit=limit)


def test_paper_orders_waiting_on_one_book_share_its_rest_request_and_later_ones_send_their_own(sim, hub):
    # As gunicorn's threads do: each order in its own thread and event loop, no feed in the process.
    market, shared = SlowDepth(hub.proxy(hub.public())), SharedBooks()
    rules = hub.run(hub.public().symbols(["SOLUSDT"]))[0]  # once: this server's budget is small

    async def rules_source(symbol):
        return rules

    papers = [
        PaperExchange(market, MemoryPaperStore({"USDT": Decimal(1000)}), rules=rules_source, shared=shared)
        for _ in range(5)
    ]
    start = threading.Barrier(4)
    states = []

    def place(paper, n):
        start.wait()
        request = OrderRequest(
            "SOLUSDT", Side.BUY, OrderType.MARKET, f"brshared{n}", quote_quantity=Decimal(20)
        )
        states.append(asyncio.run(paper.place_order(request)))

    threads = [threading.Thread(target=place, args=(papers[n], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert market.requests == 1  # four orders at once: one request
    assert sorted(p.book_reads["rest"] for p in papers[:4]) == [0, 0, 0, 1], [p.book_reads for p in papers]
    assert sum(p.book_reads["shared"] for p in papers[:4]) == 3
    assert len(states) == 4
    assert all(s.executed_quantity > 0 for s in states)  # each filled against that book

    place_after = OrderRequest("SOLUSDT", Side.BUY, OrderType.MARKET, "brshared9", quote_quantity=Decimal(20))
    asyncio.run(papers[4].place_order(place_after))
    assert market.requests == 2  # an answered book is never reused: the next order reads its own
    assert papers[4].book_reads == {"memory": 0, "rest": 1, "shared": 0}


def test_a_failed_shared_book_request_fails_every_order_waiting_on_it():
    class Unreachable(Exception):
        pass

    shared, calls = SharedBooks(), []

    async def fetch():
        calls.append(1)
        await asyncio.sleep(0.2)
        raise Unreachable("no answer")

    async def both():
        return await asyncio.gather(
            shared.depth("SOLUSDT", 100, fetch), shared.depth("SOLUSDT", 100, fetch), return_exceptions=True
        )

    results = asyncio.run(both())
    assert calls == [1]
    assert [type(r) for r in results] == [Unreachable, Unreachable]
    assert shared._in_flight == {}  # nothing left behind: the next caller asks again


def test_threads_without_an_event_loop_share_one_book_request_and_its_failure():
    # As the paper order service does from gunicorn's threads: the request runs elsewhere (a future),
    # and every thread that asks while it is in flight waits on that one answer.
    shared, calls = SharedBooks(), []
    gate = threading.Event()
    book = OrderBook("SOLUSDT", 1, (), ())

    def fetch() -> concurrent.futures.Future[OrderBook]:
        calls.append(1)
        future: concurrent.futures.Future[OrderBook] = concurrent.futures.Future()
        threading.Thread(target=lambda: (gate.wait(5), future.set_result(book))).start()
        return future

    class Counted:
        """SharedBooks' lock, counting how many callers have looked up the request in flight."""

        def __init__(self) -> None:
            self.lock, self.taken = threading.Lock(), 0

        def __enter__(self) -> None:
            self.lock.acquire()
            self.taken += 1

        def __exit__(self, *exc: object) -> None:
            self.lock.release()

    shared._lock = counted = Counted()  # type: ignore[assignment]
    results: list[tuple[OrderBook, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(shared.depth_blocking("SOLUSDT", 100, fetch, 5)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    while counted.taken < 4 or counted.lock.locked():  # all four have looked before the answer
        threading.Event().wait(0.01)
    gate.set()
    for t in threads:
        t.join()
    assert calls == [1]
    assert sorted(s for _, s in results) == [False, True, True, True]
    assert all(b is book for b, _ in results)
    assert shared._in_flight == {}  # answered: the next caller sends its own

    def failing() -> concurrent.futures.Future[OrderBook]:
        future: concurrent.futures.Future[OrderBook] = concurrent.futures.Future()
        future.set_exception(ConnectionError("no answer"))
        return future

    with pytest.raises(ConnectionError):
        shared.depth_blocking("SOLUSDT", 100, failing, 5)
    assert shared._in_flight == {}
