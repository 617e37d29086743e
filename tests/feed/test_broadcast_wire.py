"""The broadcaster on the live process's real server (uvicorn with config/live_ws.py's protocol): frames
are written straight to each connection, compressed once for every deflate socket, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect

from config.asgi import keep_server_send
from tests.conftest import free_port
from trading.broadcast import SERVER_SEND, Frame, Hub, Socket, Wire

GROUP = "markets"


class App:
    """A bare ASGI websocket app that joins every socket to GROUP the way the consumer does."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sockets: list[Socket] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        socket = Socket(send, Wire.of(scope.get(SERVER_SEND)))
        self.sockets.append(socket)
        await self.hub.join(GROUP, socket)
        await send({"type": "websocket.send", "text": "joined"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        socket.discard()
        await self.hub.leave(GROUP, socket)


@contextlib.asynccontextmanager
async def live_server(app: App) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(
        keep_server_send(app),
        host="127.0.0.1",
        port=port,
        ws="config.live_ws:LiveWebSocketProtocol",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # uvicorn offers no event for "listening"
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def test_every_socket_gets_every_frame_in_order_from_bytes_encoded_once_per_kind():
    hub = Hub(None)
    app = App(hub)
    async with live_server(app) as port:
        url = f"ws://127.0.0.1:{port}/"
        deflated = [await connect(url) for _ in range(20)]
        plain = [await connect(url, compression=None) for _ in range(5)]
        clients = deflated + plain
        for client in clients:
            assert await client.recv() == "joined"
        # The compressed and the plain sockets each share one encoding: one framing per kind.
        keys = {s.wire.key for s in app.sockets if s.wire is not None}
        assert len(app.sockets) == 25
        assert len(keys) == 2
        assert () in keys

        encoded: list[Frame] = []
        original = Frame.wire

        def counted(frame: Frame, key: tuple[Any, ...], extensions: list[Any]) -> bytes:
            encoded.append(frame)
            return original(frame, key, extensions)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Frame, "wire", counted)
            texts = [f'{{"n":{n},"pad":"{"x" * 900}"}}' for n in range(10)]
            for text in texts:
                assert hub.deliver(GROUP, {"type": "live.text", "text": text}) == 25
        for client in clients:
            assert [await asyncio.wait_for(client.recv(), 10) for _ in texts] == texts
        assert len(encoded) == 250  # asked once per socket and frame...
        assert all(len(f._wire) == 2 for f in set(encoded))  # ...but built once per kind of socket
        for client in clients:
            await client.close()


async def test_a_client_that_stops_reading_is_closed_at_the_backlog_bound_and_the_others_get_everything():
    hub = Hub(None)
    app = App(hub)
    async with live_server(app) as port:
        url = f"ws://127.0.0.1:{port}/"
        reader = await connect(url, max_queue=None)
        stuck = await connect(url, max_queue=1, compression=None)
        for client in (reader, stuck):
            assert await client.recv() == "joined"
        stuck.transport.pause_reading()  # its kernel buffers fill, then the server's transport pauses
        text = "y" * 60_000
        frames = 600
        got: list[str] = []

        async def read() -> None:
            while len(got) < frames:
                got.append(str(await reader.recv()))

        reading = asyncio.create_task(read())
        for n in range(frames):
            hub.deliver(GROUP, {"type": "live.text", "text": f"{n}:{text}"})
            await asyncio.sleep(0)
        await asyncio.wait_for(reading, 30)
        assert [g.split(":", 1)[0] for g in got] == [str(n) for n in range(frames)]
        port_of_stuck = stuck.local_address[1]
        lagging = next(s for s in app.sockets if s.wire and s.wire.proto.client[1] == port_of_stuck)
        assert lagging.closed  # fell MAX_BACKLOG frames behind: closed, its queue dropped
        assert len(lagging.backlog) <= 1
        await reader.close()
        stuck.transport.abort()
