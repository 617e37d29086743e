"""The live process (`make run`'s "live" role, uvicorn): the WebSockets, the in-process market feed
and user streams when there is no Redis, and the endpoint other processes hand live events to.
Pages, the API and static files are served by gunicorn (config/wsgi.py, config/gunicorn.py); this
app still answers HTTP (a single-process set-up, /healthz) through Django."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.livebus import PublishEndpoint  # noqa: E402
from config.metrics_web import count_websockets  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from trading.broadcast import SERVER_SEND  # noqa: E402
from trading.feed.inprocess import FeedStarter  # noqa: E402
from trading.userstream import UserStreamStarter  # noqa: E402


def keep_server_send(app: Any) -> Any:
    """Keeps the server's own `send` of each websocket in its scope (SERVER_SEND), before any
    middleware wraps it: the broadcaster writes frames to the connection itself (trading/broadcast.py)."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket":
            scope = {**scope, SERVER_SEND: send}
        await app(scope, receive, send)

    return wrapped


# Without Redis the market feed and the user-data streams live in this process (see
# trading/feed/inprocess.py and trading/userstream.py for why and how).
_with_feed = FeedStarter(
    ProtocolTypeRouter(
        {
            "http": PublishEndpoint(django_asgi_app),
            "websocket": keep_server_send(
                count_websockets(
                    AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
                )
            ),
        }
    ),
    enabled=not settings.REDIS_URL,
)
application = UserStreamStarter(_with_feed, enabled=not settings.REDIS_URL)
