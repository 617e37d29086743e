"""The live process (config.asgi under uvicorn, as `make run` starts it) with its hops traced, for
bench/serving.py's price-move figure. The bench moves the price to 700.7, 710.7, ... (markers "700",
"710": a price within 0.2 of it); the first sighting of each marker at each hop prints one line
{"marker", "hop", "t"} (time.time(), comparable across processes on one machine):

  pushed     the exchange frame carrying it reached the feed (before decoding)
  decoded    the frame was decoded
  applied    the feed applied the event to its market state
  published  the coalesced frame was encoded and handed to the channel layer
  layer      the broadcaster received it from the layer
  written    the broadcaster had written it to every socket of the group

Run as `python -m bench._live_traced PORT` with the bench's environment.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

# A move's marker is the whole part of its price ("700" for a move to 700.7): the bundled exchange's
# quotes sit on a grid around the walk (700.68 / 700.74), so a price of 700.6x-700.8x in any frame is the
# move arriving. Narrow on purpose: the all-symbols ticker frames carry 2,000 other prices, and a wider
# pattern (any 70x.x) matched one of them before the move.
MARKER = re.compile(r"(?<![0-9.])(\d{3})\.[678]\d*(?![0-9])")
_seen: set[tuple[str, str]] = set()


def _mark(text: str, hop: str, t: float | None = None) -> None:
    for marker in set(MARKER.findall(text)):
        if (marker, hop) not in _seen:
            _seen.add((marker, hop))
            print(json.dumps({"marker": marker, "hop": hop, "t": t or time.time()}), flush=True)


def main(port: int) -> None:
    import uvicorn

    from config import asgi
    from trading import broadcast
    from trading.exchange import mexc_ws
    from trading.feed import service

    decode = mexc_ws.MexcStream.decode_frame

    async def traced_decode(self: Any, frame: bytes) -> Any:
        arrived = time.time()
        events = await decode(self, frame)
        text = repr(events)
        _mark(text, "pushed", arrived)
        _mark(text, "decoded")
        return events

    handle = service.MarketFeed.handle

    async def traced_handle(self: Any, event: Any) -> None:
        await handle(self, event)
        _mark(repr(event), "applied")

    publish = service.publish_text

    async def traced_publish(layer: Any, group: str, text: str) -> None:
        _mark(text, "published")
        await publish(layer, group, text)

    deliver = broadcast.Hub.deliver

    def traced_deliver(self: Any, group: str, message: dict[str, Any]) -> int:
        text = broadcast.encode(message)
        _mark(text, "layer")
        count = deliver(self, group, message)
        _mark(text, "written")
        return count

    mexc_ws.MexcStream.decode_frame = traced_decode  # type: ignore[method-assign]
    service.MarketFeed.handle = traced_handle  # type: ignore[method-assign]
    service.publish_text = traced_publish
    broadcast.Hub.deliver = traced_deliver  # type: ignore[method-assign]
    uvicorn.run(
        asgi.application,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        ws="config.live_ws:LiveWebSocketProtocol",  # as runbrute starts it
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
