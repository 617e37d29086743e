"""The process's one broadcaster: one layer subscription per group, one frame written to each socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.layers import InMemoryChannelLayer

from config.realtime import publish_text
from trading.broadcast import MAX_BACKLOG, Hub, Socket


class Browser:
    """A socket's server side: records what the hub writes; `stalled` makes its sends wait."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.writable = asyncio.Event()
        self.writable.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        self.frames.append(message)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_one_publish_reaches_every_socket_exactly_once_through_one_layer_channel():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    browsers = [Browser() for _ in range(500)]
    for browser in browsers:
        await hub.join("market.BTCUSDT", Socket(browser.send))
    await publish_text(layer, "market.BTCUSDT", '{"type":"ticker","price":"1.5"}')
    await settle()
    assert len(layer.groups["market.BTCUSDT"]) == 1  # the process, not each socket, is subscribed
    assert all(
        b.frames == [{"type": "websocket.send", "text": '{"type":"ticker","price":"1.5"}'}] for b in browsers
    )
    assert hub.frames == 1


async def test_private_events_are_encoded_once_and_other_groups_get_nothing():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    mine, other = Browser(), Browser()
    await hub.join("user.1", Socket(mine.send))
    await hub.join("user.2", Socket(other.send))
    await layer.group_send("user.1", {"type": "balance.changed", "mode": "paper"})
    await settle()
    assert [json.loads(f["text"]) for f in mine.frames] == [{"type": "balance.changed", "mode": "paper"}]
    assert other.frames == []


async def test_a_socket_that_does_not_read_neither_delays_the_others_nor_loses_its_frames():
    hub = Hub(None)
    slow, fast = Browser(), Browser()
    slow.writable.clear()
    await hub.join("markets", Socket(slow.send))
    await hub.join("markets", Socket(fast.send))
    for n in range(3):
        hub.deliver("markets", {"type": "live.text", "text": str(n)})
    assert [f["text"] for f in fast.frames] == ["0", "1", "2"]
    assert slow.frames == []
    slow.writable.set()
    await settle()
    assert [f["text"] for f in slow.frames] == ["0", "1", "2"]


async def test_a_socket_too_far_behind_is_closed_instead_of_buffered_without_bound():
    hub = Hub(None)
    slow = Browser()
    slow.writable.clear()
    socket = Socket(slow.send)
    await hub.join("markets", socket)
    for n in range(MAX_BACKLOG + 2):
        hub.deliver("markets", {"type": "live.text", "text": str(n)})
    assert socket.closed
    slow.writable.set()
    await settle()
    assert slow.frames[-1] == {"type": "websocket.close", "code": 1013}


async def test_the_last_socket_leaving_drops_the_process_subscription():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    socket = Socket(Browser().send)
    await hub.join("market.ETHUSDT", socket)
    await hub.leave("market.ETHUSDT", socket)
    assert not layer.groups.get("market.ETHUSDT")
    assert "market.ETHUSDT" not in hub.groups


async def test_joins_and_leaves_racing_keep_exactly_one_subscription_while_a_group_has_sockets():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    sockets = [Socket(Browser().send) for _ in range(20)]
    await asyncio.gather(
        *(hub.join("markets", s) for s in sockets), *(hub.leave("markets", s) for s in sockets[:10])
    )
    assert len(layer.groups["markets"]) == 1
    await asyncio.gather(*(hub.leave("markets", s) for s in sockets))
    assert not layer.groups.get("markets")
    await hub.join("markets", sockets[0])
    assert len(layer.groups["markets"]) == 1


async def test_a_socket_whose_client_has_gone_is_dropped_and_the_others_still_get_the_frame():
    hub = Hub(None)

    async def gone(message: dict[str, Any]) -> None:
        raise OSError("client disconnected")

    fine = Browser()
    dead = Socket(gone)
    await hub.join("markets", dead)
    await hub.join("markets", Socket(fine.send))
    hub.deliver("markets", {"type": "live.text", "text": "1"})
    hub.deliver("markets", {"type": "live.text", "text": "2"})
    assert [f["text"] for f in fine.frames] == ["1", "2"]
    assert dead.closed
