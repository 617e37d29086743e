from django.contrib import admin
from django.urls import include, path

from config import views
from config.api import api
from config.metrics_web import metrics_view
from trading import views as trading_views

urlpatterns = [
    path("", trading_views.dashboard, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Pages link the icon; this answers browsers (and the API docs page) that ask for the old name.
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("", include("trading.urls")),
    path("notifications/", include("accounts.notifications.urls")),
    path("backups/", include("backups.urls")),
    path("sniper/", include("trading.sniper.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]

handler400 = "config.body_limit.bad_request"
handler403 = "config.views.forbidden"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
