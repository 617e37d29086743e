from django.urls import path

from accounts.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.index, name="index"),
    path("unread/", views.unread, name="unread"),
    path("read/", views.mark_all_read, name="mark_all_read"),
    path("<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("channels/", views.channel_index, name="channels"),
    path("channels/<int:channel_id>/toggle/", views.channel_toggle, name="channel_toggle"),
    path("channels/<int:channel_id>/test/", views.channel_test, name="channel_test"),
    path("channels/<int:channel_id>/delete/", views.channel_delete, name="channel_delete"),
]
