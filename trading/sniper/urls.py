from django.urls import include, path

from trading.sniper import views

app_name = "sniper"

rule_urls = [
    path("", views.rule_edit, name="rule_edit"),
    path("delete/", views.rule_delete, name="rule_delete"),
]

urlpatterns = [
    path("listings/", views.listings, name="listings"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", include(rule_urls)),
    path("positions/", views.positions, name="positions"),
    path("positions/<int:position_id>/close/", views.position_close, name="position_close"),
    path("risk/", views.risk, name="risk"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:alert_id>/<str:action>/", views.alert_action, name="alert_action"),
]
