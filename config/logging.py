"""Logging: request ids for every line (and the middleware that sets them), and a filter that keeps a
repeated warning from flooding the log (the feed logged about 13,300 lines in 11 s while Redis was
down, issue 15)."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from contextvars import ContextVar

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from config.middleware import AroundView

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RefusalWithoutTraceback(logging.Filter):
    """On django.request: a 403 (a PermissionDenied, e.g. a trader opening the backups page) is a
    routine refusal, logged as its one line; Django attaches the exception, whose traceback says
    nothing the line does not."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


class RepeatFilter(logging.Filter):
    """Lets the first `burst` records of a kind through per `window_s` seconds and drops the rest;
    the next record of that kind let through says how many were dropped.

    A kind is (logger, level, message template, exception type): the same failure repeating, not the
    same logger. Only WARNING and above are limited; INFO lines (a task received) are all kept.
    """

    def __init__(self, window_s: float = 10.0, burst: int = 3, level: int = logging.WARNING) -> None:
        super().__init__()
        self.window_s, self.burst, self.level = window_s, burst, level
        self._seen: dict[tuple[object, ...], list[float]] = {}  # kind -> [window start, passed, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, record.levelno, str(record.msg), exc_type)
        now = time.monotonic()
        with self._lock:
            state = self._seen.get(kind)
            if state is None or now - state[0] >= self.window_s:
                dropped = int(state[2]) if state else 0
                self._seen[kind] = [now, 1, 0]
                if len(self._seen) > 1000:  # forget old kinds; a long-running process sees many
                    self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
                if dropped:
                    note = f"[{dropped} more like this in the last {self.window_s:g}s]"
                    record.msg = f"{record.getMessage()} {note}"
                    record.args = ()
                return True
            if state[1] < self.burst:
                state[1] += 1
                return True
            state[2] += 1
            return False


class RequestIdMiddleware(AroundView[str]):
    """Takes a sane X-Request-ID from the proxy or makes one; echoes it on the response."""

    def before(self, request: HttpRequest) -> str:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(rid)
        request.META["BRUTE_REQUEST_ID"] = rid
        return rid

    def after(self, request: HttpRequest, response: HttpResponseBase, state: str) -> None:
        response["X-Request-ID"] = state
