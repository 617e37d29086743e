from django.urls import include, path

from trading import views

app_name = "trading"

market_urls = [
    path("", views.market, name="market"),
    path("candles", views.candles, name="candles"),
    path("order", views.order_place, name="order_place"),
    path("favourite", views.favourite_toggle, name="favourite_toggle"),
]

order_urls = [
    path("", views.order_detail, name="order_detail"),
    path("cancel", views.order_cancel, name="order_cancel"),
]

urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("markets/<str:symbol>/", include(market_urls)),
    path("orders/", views.orders, name="orders"),
    path("orders/cancel-all", views.order_cancel_all, name="order_cancel_all"),
    path("orders/<int:order_id>/", include(order_urls)),
    path("portfolio/", views.portfolio_page, name="portfolio"),
    path("portfolio/equity", views.equity, name="equity"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/mode", views.mode_set, name="mode_set"),
    path("settings/keys", views.credential_save, name="credential_save"),
    path("settings/keys/test", views.credential_test, name="credential_test"),
    path("settings/keys/delete", views.credential_delete, name="credential_delete"),
    path("settings/paper-reset", views.paper_reset, name="paper_reset"),
]
