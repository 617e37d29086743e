from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from accounts.models import ApiToken, IdempotencyKey, RefreshToken, Role, User
from accounts.services import (
    LAST_ADMIN,
    token_revoke_all_for_user,
    user_admin_keep_one,
    user_sign_out_everywhere,
)


class UserAdminChangeForm(UserChangeForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.instance.pk is not None:
            try:
                user_admin_keep_one(
                    user=self.instance, role=cleaned.get("role"), is_active=cleaned.get("is_active")
                )
            except ValidationError as exc:
                self.add_error("role" if cleaned.get("is_active", True) else "is_active", exc)
        return cleaned


def _is_last_admin(user: User) -> bool:
    try:
        user_admin_keep_one(user=user, deleting=True)
    except ValidationError:
        return True
    return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
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

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A bulk delete that takes the last active admin is refused: its confirmation page names why
        # (Django's "protected" list) and its "Yes" deletes nothing.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        admins = [u for u in objs if isinstance(u, User) and u.role == Role.ADMIN and u.is_active]
        if (
            admins
            and not User.objects.filter(role=Role.ADMIN, is_active=True)
            .exclude(pk__in=[u.pk for u in admins])
            .exists()
        ):
            protected = [*protected, LAST_ADMIN]
        return deleted, counts, perms_needed, protected

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        user = self.get_object(request, object_id)
        if isinstance(user, User) and _is_last_admin(user):
            self.message_user(request, LAST_ADMIN, messages.ERROR)
            return HttpResponseRedirect(request.path.removesuffix("delete/"))
        return super().delete_view(request, object_id, extra_context)

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
