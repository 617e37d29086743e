"""gunicorn's settings for the "web" role: pages, the API and static files (WhiteNoise) over WSGI.

Why WSGI beside an ASGI process (issue 18): under ASGI every synchronous middleware and view costs a
thread hop and each request a fresh database connection; the same trivial view answers about 390
req/s on daphne and 4,600 on two gunicorn workers here. WebSockets stay on the ASGI "live" process
(config/asgi.py, LIVE_WS_PORT). Used as `gunicorn -c python:config.gunicorn config.wsgi:application`.

WEB_WORKERS processes (default: one per core) of WEB_THREADS threads each: threads keep a worker
answering while one request waits on the exchange, and hold browsers' keep-alive connections.
"""

from __future__ import annotations

import os
from typing import Any

from config.env import env

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = env.integer("WEB_WORKERS", os.cpu_count() or 2, minimum=1, maximum=64)
threads = env.integer("WEB_THREADS", 4, minimum=1, maximum=64)
worker_class = "gthread"
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


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's Prometheus samples stop counting as live (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Only in prometheus_client's multiprocess mode, which reads its env var at import.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
