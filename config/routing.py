"""WebSocket routes, one list for the whole site."""

from django.urls import URLPattern, URLResolver, path

from trading.consumers import LiveConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
