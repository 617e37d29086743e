from __future__ import annotations

from django.contrib import admin

from accounts.notifications.channels import mask
from accounts.notifications.models import Delivery, Notification, NotificationChannel


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ("channel", "status", "attempts", "last_error", "sent_at")
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "kind", "level", "created", "read_at")
    list_filter = ("kind", "level")
    search_fields = ("title", "user__email")
    raw_id_fields = ("user",)
    inlines = (DeliveryInline,)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ("label", "user", "type", "enabled", "created")
    list_filter = ("type", "enabled")
    search_fields = ("label", "user__email")
    fields = ("user", "type", "label", "enabled", "kinds", "masked_settings", "created")
    readonly_fields = ("user", "type", "masked_settings", "created")

    @admin.display(description="Settings (masked)")
    def masked_settings(self, channel: NotificationChannel) -> str:
        return "; ".join(f"{label}: {value}" for label, value in mask(channel.type, channel.config))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("notification", "channel", "status", "attempts", "sent_at")
    list_filter = ("status",)
    readonly_fields = ("notification", "channel", "attempts", "last_error", "created", "sent_at")
