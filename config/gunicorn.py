"""gunicorn's settings for the "web" role: pages, the API and static files (WhiteNoise) over WSGI.

Why WSGI beside an ASGI process (issue 18): under ASGI every synchronous middleware and view costs a
thread hop and each request a fresh database connection; the same trivial view answers about 390
req/s on daphne and 4,600 on two gunicorn workers here. WebSockets stay on the ASGI "live" process
(config/asgi.py, LIVE_WS_PORT). Used as `gunicorn -c python:config.gunicorn config.wsgi:application`.

WEB_WORKERS processes (default: one per core) of WEB_THREADS threads each: threads keep a worker
answering while one request waits on the exchange, and hold browsers' keep-alive connections.

The tail of the latency under load (issue 18, `bench serving`) came from the set-up, not the views:
- gthread's workers all watch the one listening socket, and the first to wake takes most of a burst
  of new connections and keeps them (keep-alive): 47 of 50 on one of four workers, 40 of 50 on one of
  two, whose requests then waited 4 times as long as the others'. `FairThreadWorker` takes a new
  connection only while it holds no more than the least-loaded live worker (plus one).
- A full garbage collection of a worker's heap (about 156,000 objects once Django is loaded) stops
  every thread of the worker for 50-140 ms; the objects loaded at start-up are frozen out of the
  collector (`gc.freeze`, as Instagram's Django fleet does), so a collection walks only what requests
  made.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from config.env import env

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = env.integer("WEB_WORKERS", os.cpu_count() or 2, minimum=1, maximum=64)
threads = env.integer("WEB_THREADS", 16, minimum=1, maximum=64)
worker_class = "config.gunicorn.FairThreadWorker"
# A request line past 8 KB gets 414 (gunicorn's largest limit), a header line past 8 KB 431/400.
limit_request_line = 8190
limit_request_field_size = 8190
backlog = 2048
keepalive = 5
timeout = 60
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = "warning"
# Behind the Docker image's proxy the client's address and scheme come from X-Forwarded-*.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Open connections of each live worker, shared by all of them (made in the arbiter, inherited by the
# forked workers): slot -> connections (-1: free) and when the worker last wrote it (monotonic s).
SLOTS = 64
_connections = multiprocessing.RawArray("i", [-1] * SLOTS)
_written = multiprocessing.RawArray("d", [0.0] * SLOTS)
# A worker whose loop has not written for this long (its loop wakes at least once a second) is left
# out of the comparison, so a stuck worker cannot stop the others from accepting.
STALE_S = 3.0


def pre_fork(server: Any, worker: Any) -> None:
    """In the arbiter, before a worker is forked: it gets a free slot of the shared counts."""
    used = {getattr(w, "slot", None) for w in server.WORKERS.values()}
    worker.slot = next(i for i in range(SLOTS) if i not in used)
    _connections[worker.slot] = 0
    _written[worker.slot] = time.monotonic()


def post_worker_init(worker: Any) -> None:
    """In the worker, once the app is loaded: what is loaded now lives as long as the worker."""
    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's slot is freed, and its Prometheus samples stop counting as live
    (prometheus_client's multiprocess mode)."""
    slot = getattr(worker, "slot", None)
    if slot is not None:
        _connections[slot] = -1
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Only in prometheus_client's multiprocess mode, which reads its env var at import.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def fewest_connections(now: float) -> int | None:
    """The fewest open connections of any live worker, or None when no worker has written lately."""
    counts = [_connections[i] for i in range(SLOTS) if _connections[i] >= 0 and now - _written[i] < STALE_S]
    return min(counts) if counts else None


class FairThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no annotations
    """gunicorn's gthread worker that takes a new connection only while it holds no more open
    connections than the least-loaded live worker, plus one.

    Each time its loop wakes, the worker writes its own count to the shared slots and stops or starts
    watching the listening socket; connections it leaves wait in the kernel's backlog for a worker
    whose turn it is (the least-loaded one always accepts, so none waits for long).
    """

    slot: int | None = None

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self.set_accept_enabled(self.nr_conns < self.worker_connections)
        super().wait_for_and_dispatch_events(timeout)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._my_turn())

    def _my_turn(self) -> bool:
        if self.slot is None:  # not forked by an arbiter that ran pre_fork
            return True
        now = time.monotonic()
        _connections[self.slot] = self.nr_conns
        _written[self.slot] = now
        fewest = fewest_connections(now)
        return fewest is None or self.nr_conns <= fewest + 1
