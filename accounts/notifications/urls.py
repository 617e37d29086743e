from django.urls import include, path

from accounts.notifications import views

app_name = "notifications"

channel_urls = [
    path("toggle/", views.channel_toggle, name="channel_toggle"),
    path("test/", views.channel_test, name="channel_test"),
    path("delete/", views.channel_delete, name="channel_delete"),
]

urlpatterns = [
    path("", views.index, name="index"),
    path("unread/", views.unread, name="unread"),
    path("read/", views.mark_all_read, name="mark_all_read"),
    path("<int:notification_id>/read/", views.mark_read, name="mark_read"),
    path("channels/", views.channel_index, name="channels"),
    path("channels/<int:channel_id>/", include(channel_urls)),
]
