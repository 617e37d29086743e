from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Cache invalidation, not domain flow: a User or ApiToken row saved anywhere (a service, the
        # admin, a shell) drops this process's cached answers for that user (accounts/auth_cache.py).
        from accounts.models import ApiToken, User

        for model in (User, ApiToken):
            post_save.connect(_forget, sender=model, dispatch_uid=f"auth-cache-{model.__name__}-save")
            post_delete.connect(_forget, sender=model, dispatch_uid=f"auth-cache-{model.__name__}-delete")


def _forget(sender: type, instance: Any, **kwargs: Any) -> None:
    # Imported here: apps.py is loaded before the models auth_cache reads are ready.
    from accounts import auth_cache

    user_id = instance.pk if sender.__name__ == "User" else instance.user_id
    if user_id is not None:
        auth_cache.forget_user(int(user_id))
