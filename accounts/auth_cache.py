"""What the API's authentication read last, kept in this process for API_AUTH_CACHE_TTL seconds.

Checking a personal token or a JWT's user through the ORM was a third of an API read (issue 18), so a
process keeps each answer for a few seconds. The bound on staleness is the TTL: a token revoked, a
user deactivated or signed out everywhere in another process is refused there within the TTL; in the
process that made the change at once, because every such write calls `forget_user` (the services do,
and saving a User or an ApiToken row anywhere does, through the receivers in accounts/apps.py).

Callers (accounts/tokens.py) hand each request its own copy of a cached row, so one request cannot
change what another request of the same process sees.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Generic, TypeVar

from django.conf import settings
from django.db.models import Model
from django.db.models.base import ModelState

if TYPE_CHECKING:
    from accounts.models import ApiToken, User

V = TypeVar("V")
M = TypeVar("M", bound=Model)
_MAX_ENTRIES = 10_000


class TtlCache(Generic[V]):
    def __init__(self) -> None:
        self._items: dict[object, tuple[float, int, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> V | None:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[2]

    def put(self, key: object, user_id: int, value: V) -> None:
        ttl = float(settings.API_AUTH_CACHE_TTL)
        if ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= _MAX_ENTRIES:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] >= now}
                if len(self._items) >= _MAX_ENTRIES:
                    self._items.clear()
            self._items[key] = (time.monotonic() + ttl, user_id, value)

    def forget(self, key: object) -> None:
        with self._lock:
            self._items.pop(key, None)

    def forget_user(self, user_id: int) -> None:
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[1] != user_id}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# sha256 of a personal token's secret -> the ApiToken row with its user.
tokens: TtlCache[ApiToken] = TtlCache()
# user id -> (the active User, its token generation), for access JWTs.
users: TtlCache[tuple[User, str]] = TtlCache()


def forget_user(user_id: int) -> None:
    """Drop everything cached for one user (their tokens and their row) in this process."""
    tokens.forget_user(user_id)
    users.forget_user(user_id)


def clear() -> None:
    tokens.clear()
    users.clear()


def own_copy(instance: M) -> M:
    """A request's own shallow copy of a cached row: what `copy.copy` makes (its own field values and
    its own cache of related rows), without the pickle protocol, whose `__reduce__` looks the model up
    in the app registry and copies through `__getstate__`: a sixth of a cached token read (issue 18)."""
    mine = instance.__class__.__new__(instance.__class__)
    values = instance.__dict__.copy()
    state = ModelState()
    state.db, state.adding = instance._state.db, instance._state.adding
    state.fields_cache = instance._state.fields_cache.copy()
    values["_state"] = state
    mine.__dict__.update(values)
    return mine
