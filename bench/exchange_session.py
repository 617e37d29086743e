"""Live orders through the process's exchange hub against the bundled exchange (real HTTP and
WebSocket on loopback, rate limits lifted), in a child process with its own temporary database.

1. Requests on the wire per live MARKET order, counted by the clients themselves:
   - baseline, today's path on main: a new `MexcRestClient` per order (new TLS context, a fresh
     GET /api/v3/time, POST, the read-back, myTrades and the account);
   - the hub without a user-data stream (the read-back, myTrades and balances still asked for);
   - the hub while the user-data stream is subscribed (the stream brings the fate, fills, balances).
2. Delay from the exchange's fill to Brute's committed Fill row, for resting live LIMIT orders that
   the market trades through while nobody asks, p50/p99 over 60 fills. Baseline of the same run: the
   delay until the stream's frame was decoded in Brute (before any database work). Before this
   change nothing listened: the fill waited for the 5-minute reconcile.
About 30 s in all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            BRUTE_VAR_DIR=str(Path(tmp) / "var"),
            DATABASE_URL=f"file:{Path(tmp) / 'bench.db'}",
            LOG_LEVEL="ERROR",
            MEXC_SIMULATED="false",
        )
        subprocess.run([sys.executable, "-m", "bench._exchange_session_child"], cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    run()
