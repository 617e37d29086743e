from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiToken, IdempotencyKey, RefreshToken, User
from accounts.services import token_revoke_all_for_user, user_sign_out_everywhere


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "role", "is_active", "date_joined", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("email", "display_name")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name",)}),
        (
            "Access",
            {"fields": ("role", "is_active"), "description": "Admins reach this site and operator pages."},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),)
    actions = ("sign_out_everywhere",)

    @admin.action(description="Sign out everywhere (sessions, API logins and personal tokens)")
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_sign_out_everywhere(user=user, request=request)
        self.message_user(request, f"{queryset.count()} users signed out everywhere.", messages.SUCCESS)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # An operator setting someone's password ends their API logins and tokens as a change does.
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            token_revoke_all_for_user(user=self.get_object(request, id))  # type: ignore[arg-type]
        return response


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "hint",
        "scopes",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("scopes",)
    search_fields = ("name", "user__email", "hint")
    readonly_fields = ("user", "hint", "created_at", "last_used_at")
    exclude = ("token_hash",)
    raw_id_fields = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token's secret is shown once, to its owner, on the settings page


@admin.register(RefreshToken)
class RefreshTokenAdmin(admin.ModelAdmin):
    list_display = ("jti", "user", "family", "created_at", "expires_at", "revoked_at", "revoked_reason")
    list_filter = ("revoked_reason",)
    search_fields = ("user__email", "jti", "family")
    readonly_fields = ("user", "jti", "family", "created_at", "expires_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "status_code", "created_at")
    search_fields = ("key", "user__email")
    readonly_fields = ("user", "key", "fingerprint", "status_code", "content_type", "created_at")
    exclude = ("response_body",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
