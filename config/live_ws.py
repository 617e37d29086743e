"""The live process's WebSocket protocol: uvicorn's websockets-sansio one, with permessage-deflate
negotiated without server context takeover (`uvicorn --ws config.live_ws:LiveWebSocketProtocol`).

Why (issue 18): with context takeover every socket compresses each frame with its own zlib stream,
so the same tick becomes 1,000 different byte strings and 1,000 compressions. Without it the
compressed frame depends only on the message and the negotiated window, so the broadcaster
(trading/broadcast.py) compresses and frames a group message once and writes the same bytes to every
socket's transport. Browsers' frames to the server keep whatever the client asked for.

Imported by uvicorn before Django is set up: nothing here may import Django or the app.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.server import ServerProtocol

# uvicorn's own choices for the window and memory (a 4 KB window, about 32 KB of zlib state).
WINDOW_BITS = 12
COMPRESS_SETTINGS = {"memLevel": 5}


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        extensions = []
        if config.ws_per_message_deflate:
            extensions = [
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=True,
                    server_max_window_bits=WINDOW_BITS,
                    client_max_window_bits=WINDOW_BITS,
                    compress_settings=COMPRESS_SETTINGS,
                )
            ]
        self.conn = ServerProtocol(
            extensions=extensions, max_size=config.ws_max_size, logger=logging.getLogger("uvicorn.error")
        )
