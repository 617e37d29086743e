from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.utils.html import escape

from accounts.notifications.channels import VALIDATORS, ConfigError
from accounts.notifications.models import ChannelType, Kind

# Which form fields feed each channel type's settings, under the settings' own names.
CONFIG_FIELDS: dict[str, dict[str, str]] = {
    ChannelType.EMAIL: {"email_address": "address"},
    ChannelType.WEBHOOK: {"webhook_url": "url", "webhook_secret": "secret"},
    ChannelType.TELEGRAM: {"telegram_bot_token": "bot_token", "telegram_chat_id": "chat_id"},
    ChannelType.SLACK: {"slack_url": "url"},
}


class ChannelForm(forms.Form):
    type = forms.ChoiceField(choices=ChannelType.choices, initial=ChannelType.EMAIL)
    label = forms.CharField(max_length=80, required=False, help_text="A name for you, e.g. “Phone”.")
    kinds = forms.MultipleChoiceField(
        choices=Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(Kind.values),
        label="Send these notifications",
        error_messages={"required": "Choose at least one kind of notification."},
    )
    email_address = forms.CharField(
        required=False, label="Email address", help_text="Email only. Empty: your account email."
    )
    webhook_url = forms.CharField(required=False, label="Webhook URL", help_text="Signed webhook only.")
    webhook_secret = forms.CharField(
        required=False,
        label="Signing secret",
        help_text="Signed webhook only. Copy it now: it is shown masked once saved. Verify "
        '<code>X-Brute-Signature: t=…,v1=…</code>, the HMAC-SHA256 of <code>t + "." + body</code>.',
    )
    telegram_bot_token = forms.CharField(
        required=False, label="Telegram bot token", help_text="Telegram only. From @BotFather."
    )
    telegram_chat_id = forms.CharField(
        required=False, label="Telegram chat id", help_text="Telegram only. Message the bot first."
    )
    slack_url = forms.CharField(required=False, label="Slack incoming-webhook URL")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["webhook_secret"].initial = "whsec_" + secrets.token_urlsafe(24)
        # help_text is shown unescaped (it holds markup, see webhook_secret).
        self.fields["slack_url"].help_text = f"Slack only. {escape(settings.SLACK_WEBHOOK_BASE)}…"

    def clean(self) -> dict[str, Any]:
        """The chosen channel type's settings are checked with the other fields, so one submit shows
        every error (channel_create checks them again before it saves)."""
        cleaned = super().clean() or {}
        if cleaned.get("type") in VALIDATORS:
            try:
                VALIDATORS[cleaned["type"]](self.config())
            except ConfigError as exc:
                self.add_config_errors(exc)
        return cleaned

    def config(self) -> dict[str, str]:
        fields = CONFIG_FIELDS[self.cleaned_data["type"]]
        return {name: self.cleaned_data.get(field, "") for field, name in fields.items()}

    def add_config_errors(self, error: ConfigError) -> None:
        """Put each settings error on the form field it came from."""
        by_name = {value: key for key, value in CONFIG_FIELDS[self.cleaned_data["type"]].items()}
        for name, message in error.errors.items():
            self.add_error(by_name.get(name), message)
