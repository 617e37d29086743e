from django.urls import path

from backups import views

app_name = "backups"

urlpatterns = [
    path("", views.backup_index, name="index"),
    path("start/", views.backup_start, name="start"),
    path("runs/<int:run_id>/", views.backup_run_detail, name="run"),
    path("<str:backup_id>/download/", views.backup_download, name="download"),
]
