from django.urls import path

from trading import views

app_name = "trading"

urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("markets/<str:symbol>/", views.market, name="market"),
    path("markets/<str:symbol>/candles", views.candles, name="candles"),
    path("markets/<str:symbol>/order", views.order_place, name="order_place"),
    path("markets/<str:symbol>/favourite", views.favourite_toggle, name="favourite_toggle"),
    path("orders/", views.orders, name="orders"),
    path("orders/cancel-all", views.order_cancel_all, name="order_cancel_all"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/cancel", views.order_cancel, name="order_cancel"),
    path("portfolio/", views.portfolio_page, name="portfolio"),
    path("portfolio/equity", views.equity, name="equity"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/mode", views.mode_set, name="mode_set"),
    path("settings/keys", views.credential_save, name="credential_save"),
    path("settings/keys/test", views.credential_test, name="credential_test"),
    path("settings/keys/delete", views.credential_delete, name="credential_delete"),
    path("settings/paper-reset", views.paper_reset, name="paper_reset"),
]
