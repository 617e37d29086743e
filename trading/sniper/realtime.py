"""Live pushes of the sniper: small JSON frames to each interested user's own group, after commit.

The live consumer lets a browser join only "markets", "market.<SYMBOL>" and its own "user.<id>", so
listing changes go to the users they concern; the listings page also refreshes itself periodically.
The frames use the feed's "live.text" type, which the consumer forwards unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from config.realtime import LIVE_TEXT, send_on_commit, user_group


def push(user_ids: Iterable[int], payload: dict[str, Any]) -> None:
    text = json.dumps(payload, separators=(",", ":"), default=str)
    for user_id in sorted(set(user_ids)):
        send_on_commit(user_group(user_id), {"type": LIVE_TEXT, "text": text})
