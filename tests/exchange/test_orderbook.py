from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading.exchange.events import DepthEvent, StreamReconnected
from trading.exchange.orderbook import Applied, BookState, LocalOrderBook
from trading.exchange.types import BookLevel, OrderBook


def lv(price, qty):
    return BookLevel(Decimal(price), Decimal(qty))


def push(frm, to, bids=(), asks=()):
    return DepthEvent(
        symbol="BTCUSDT", bids=tuple(bids), asks=tuple(asks), from_version=frm, to_version=to, time_ms=0
    )


def snapshot(version, bids=None, asks=None):
    bids = (lv("99", "1"),) if bids is None else bids
    asks = (lv("101", "1"),) if asks is None else asks
    return OrderBook(symbol="BTCUSDT", last_update_id=version, bids=tuple(bids), asks=tuple(asks))


def test_it_drops_pushes_older_than_the_snapshot_and_applies_the_covering_one():
    book = BookState("BTCUSDT")
    book.load(snapshot(10))
    assert book.apply(push(5, 9, bids=[lv("98", "5")])) is Applied.STALE
    assert book.apply(push(8, 12, bids=[lv("99", "0"), lv("100", "2")])) is Applied.APPLIED
    assert book.version == 12
    assert book.view().bids == (lv("100", "2"),)


def test_it_reports_a_gap_when_the_chain_breaks():
    book = BookState("BTCUSDT")
    book.load(snapshot(10))
    assert book.apply(push(11, 12)) is Applied.APPLIED
    assert book.apply(push(14, 15)) is Applied.GAP
    assert not book.synced


def test_it_reports_a_gap_when_the_first_push_starts_after_the_snapshot():
    book = BookState("BTCUSDT")
    book.load(snapshot(10))
    assert book.apply(push(12, 13)) is Applied.GAP


async def test_maintainer_resnapshots_on_gap_and_on_reconnect():
    versions = iter([10, 20, 30])

    async def fetch():
        return snapshot(next(versions))

    book = LocalOrderBook("BTCUSDT", fetch)
    assert await book.on_event(push(9, 11, asks=[lv("102", "3")]))
    assert book.snapshots == 1
    assert await book.on_event(push(19, 21))  # gap 12..18 -> snapshot 20 -> covering push applies
    assert (book.snapshots, book.gaps) == (2, 1)
    assert not await book.on_event(StreamReconnected(topics=()))
    assert await book.on_event(push(30, 31))
    assert book.snapshots == 3
    assert book.view().last_update_id == 31


@given(
    st.lists(
        st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 20), st.integers(0, 5)),
        min_size=1,
        max_size=60,
    )
)
def test_contiguous_pushes_leave_the_book_equal_to_a_model(updates):
    book = BookState("BTCUSDT")
    book.load(snapshot(0, bids=(), asks=()))
    model = {"bid": {}, "ask": {}}
    for version, (side, price, qty) in enumerate(updates, start=1):
        level = [lv(price, qty)]
        event = push(
            version, version, bids=level if side == "bid" else (), asks=level if side == "ask" else ()
        )
        assert book.apply(event) is Applied.APPLIED
        if qty:
            model[side][Decimal(price)] = Decimal(qty)
        else:
            model[side].pop(Decimal(price), None)
    assert book.bids == model["bid"]
    assert book.asks == model["ask"]
