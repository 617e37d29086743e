"""One broadcaster per process: the live process's sockets, by group, and one frame written to each.

Before this, every socket had its own channel-layer channel and joined each group itself, so a tick
to 1,000 sockets was 1,000 layer deliveries, each through the consumer's queue (issue 18). Now the
process holds ONE layer channel per group it has sockets in; the `Hub` receives each group message
once, encodes it once (the feed's frames arrive already encoded) and writes that same ASGI message to
every local socket of the group.

On the live process's own server (uvicorn with config/live_ws.py's protocol) a frame is written
straight to each socket's transport: the message is framed, and compressed when the socket
negotiated permessage-deflate (without server context takeover, so the bytes are the same for every
such socket), ONCE per group message; each socket then costs one `transport.write` of those bytes, no
ASGI send, no coroutine, no middleware (`Wire`). Elsewhere (tests, another server) each frame goes
through the socket's ASGI `send`.

Writes do not wait on one another: a write to a socket whose transport has room (the usual case)
completes at once; a socket whose transport is paused (a client not reading, its buffer past the
high-water mark) gets the frame through its ASGI send, which waits in a task of its own while later
frames for that socket queue behind it, and a socket that falls `MAX_BACKLOG` frames behind is
closed (1013, "try again later") so the page reconnects and re-reads the current state instead of
the process buffering without bound. Frames to one socket keep their order.

The hub is bound to the event loop that created it (a test's loop, or the server's one loop).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame as WireFrame
from websockets.frames import Opcode

from trading.realtime import LIVE_TEXT

log = logging.getLogger(__name__)

MAX_BACKLOG = 256
# The flushes in progress: the loop keeps only weak references to tasks.
_flushes: set[asyncio.Task[None]] = set()
Send = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]
# The scope key config/asgi.py keeps the server's own `send` under (before any middleware wraps it).
SERVER_SEND = "brute.server_send"


class Frame:
    """One group message, encoded once: as an ASGI message, and as wire bytes per kind of socket."""

    __slots__ = ("_wire", "data", "message")

    def __init__(self, text: str) -> None:
        self.message = {"type": "websocket.send", "text": text}
        self.data = text.encode()
        self._wire: dict[tuple[Any, ...], bytes] = {}

    def wire(self, key: tuple[Any, ...], extensions: list[Any]) -> bytes:
        """The frame's bytes for sockets that negotiated `extensions` (all stateless, named by `key`)."""
        found = self._wire.get(key)
        if found is None:
            frame = WireFrame(Opcode.TEXT, self.data)
            found = self._wire[key] = frame.serialize(mask=False, extensions=extensions)
        return found


class Wire:
    """Writes to one connection of uvicorn's websockets-sansio protocol without its ASGI send.

    `key` names the connection's outgoing encoding when it is the same for every message (no
    extension, or permessage-deflate without server context takeover): its frames are the shared
    bytes of `Frame.wire`. Otherwise (deflate with context takeover: plain `--ws websockets-sansio`)
    the connection's own protocol frames and compresses each message, as `websockets.broadcast` does.
    """

    __slots__ = ("key", "proto")

    def __init__(self, proto: Any, key: tuple[Any, ...] | None) -> None:
        self.proto, self.key = proto, key

    @classmethod
    def of(cls, server_send: Any) -> Wire | None:
        """The wire of the connection whose server `send` this is, or None on any other server."""
        proto = getattr(server_send, "__self__", None)
        if not isinstance(proto, WebSocketsSansIOProtocol):
            return None
        extensions = list(proto.conn.extensions)
        if not extensions:
            return cls(proto, ())
        deflate = extensions[0]
        if len(extensions) == 1 and isinstance(deflate, PerMessageDeflate):
            if not deflate.local_no_context_takeover:
                return cls(proto, None)
            return cls(proto, (deflate.local_max_window_bits, *sorted(deflate.compress_settings.items())))
        return cls(proto, None)

    def ready(self) -> bool:
        """Open, and its transport takes more without waiting (uvicorn's flow control)."""
        proto = self.proto
        return bool(
            proto.handshake_complete
            and not proto.close_sent
            and not proto.disconnected
            and proto.writable.is_set()
            and not proto.transport.is_closing()
        )

    def write(self, frame: Frame) -> None:
        proto = self.proto
        if self.key is None:
            proto.conn.send_text(frame.data)
            proto.transport.write(b"".join(proto.conn.data_to_send()))
        else:
            proto.transport.write(frame.wire(self.key, proto.conn.extensions))


class Socket:
    """One browser socket as the hub sees it: the server's ASGI `send`, the connection's `Wire` when
    the server allows direct writes, and what is still queued."""

    __slots__ = ("backlog", "closed", "flushing", "send", "wire")

    def __init__(self, send: Send, wire: Wire | None = None) -> None:
        self.send = send
        self.wire = wire
        self.backlog: collections.deque[dict[str, Any]] = collections.deque()
        self.flushing = False
        self.closed = False

    def write(self, frame: Frame) -> None:
        """Write `frame` now if the socket takes it without waiting, else after what is queued."""
        if self.closed:
            return
        wire = self.wire
        if wire is not None and not self.flushing and wire.ready():
            try:
                wire.write(frame)
            except Exception:  # the connection broke under the write; its disconnect cleans up
                self.discard()
            return
        message = frame.message
        if self.flushing:
            if len(self.backlog) < MAX_BACKLOG:
                self.backlog.append(message)
                return
            # Too far behind: drop what is queued and close after the frame being written.
            log.info("live socket fell %s frames behind: closing it", MAX_BACKLOG)
            self.closed = True
            self.backlog.clear()
            self.backlog.append({"type": "websocket.close", "code": 1013})
            return
        try:
            waiting = _step(self.send(message))
        except Exception:  # the client has gone (the server refuses sends after a close)
            self.discard()
            return
        if waiting is not None:
            self.flushing = True
            task = asyncio.get_running_loop().create_task(self._flush(waiting))
            _flushes.add(task)
            task.add_done_callback(_flushes.discard)

    def discard(self) -> None:
        """The client has gone: write nothing more."""
        self.closed = True
        self.backlog.clear()

    async def _flush(self, waiting: Coroutine[Any, Any, None]) -> None:
        try:
            await waiting
            while self.backlog:
                await self.send(self.backlog.popleft())
        except Exception:  # the client went away mid-write; its disconnect cleans up
            self.discard()
        finally:
            self.flushing = False


class _Resume:
    """The rest of a send coroutine that suspended on its first step, as an awaitable."""

    def __init__(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, None, None]:
        yielded = self.yielded
        try:
            while True:
                yield yielded  # hand the future the send waits on to the task running us
                try:
                    yielded = self.coro.send(None)
                except StopIteration:
                    return
        finally:
            self.coro.close()  # a no-op once finished; on cancellation it ends the send too


def _step(coro: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None] | None:
    """Runs `coro` until it finishes or first suspends. None if it finished; else the remainder."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    resume = _Resume(coro, yielded)

    async def rest() -> None:
        await resume

    return rest()


class Hub:
    def __init__(self, layer: BaseChannelLayer | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = layer
        self.groups: dict[str, set[Socket]] = {}
        self._channels: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._lock = asyncio.Lock()
        self.frames = self.writes = 0

    async def join(self, group: str, socket: Socket) -> None:
        self.groups.setdefault(group, set()).add(socket)
        await self._sync(group)

    async def leave(self, group: str, socket: Socket) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(socket)
            if not members:
                del self.groups[group]
        await self._sync(group)

    async def _sync(self, group: str) -> None:
        # Under one lock, so a join and a leave racing over a group's first and last socket leave
        # exactly one layer subscription when it has sockets and none when it has not.
        async with self._lock:
            wanted, held = bool(self.groups.get(group)), group in self._channels
            if wanted and not held:
                await self._subscribe(group)
            elif held and not wanted:
                await self._unsubscribe(group)

    def deliver(self, group: str, message: dict[str, Any]) -> int:
        """Writes one group message to every local socket of `group`; returns how many."""
        members = self.groups.get(group)
        if not members:
            return 0
        frame = Frame(encode(message))
        for socket in list(members):
            socket.write(frame)
        self.frames += 1
        self.writes += len(members)
        return len(members)

    async def _subscribe(self, group: str) -> None:
        if self.layer is None:
            return
        channel = await self.layer.new_channel()
        await self.layer.group_add(group, channel)
        task = self.loop.create_task(self._receive(group, channel))
        self._channels[group] = (channel, task)

    async def _unsubscribe(self, group: str) -> None:
        found = self._channels.pop(group, None)
        if found is None or self.layer is None:
            return
        channel, task = found
        task.cancel()
        with contextlib.suppress(Exception):
            await self.layer.group_discard(group, channel)

    async def _receive(self, group: str, channel: str) -> None:
        assert self.layer is not None
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away or timed out: keep listening
                log.exception("live hub: receive for %s failed", group)
                await asyncio.sleep(1)
                continue
            try:
                self.deliver(group, message)
            except Exception:  # one message that cannot be encoded must not end the group's stream
                log.exception("live hub: could not deliver a %s message", message.get("type"))


def encode(message: dict[str, Any]) -> str:
    if message.get("type") == LIVE_TEXT:
        return str(message["text"])
    return json.dumps(message, cls=DjangoJSONEncoder, separators=(",", ":"))


_hub: Hub | None = None


def hub() -> Hub:
    """This loop's hub (one per process in a server; a test's fresh loop gets a fresh one)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub(get_channel_layer())
    return _hub


def local_hub() -> Hub | None:
    """The hub of this process if it serves sockets (the live process), else None."""
    return _hub if _hub is not None and not _hub.loop.is_closed() else None
