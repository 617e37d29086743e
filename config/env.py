"""The one strict reader of the environment.

Every setting comes through here so that a malformed value stops start-up with a message that
names the variable, instead of surfacing later as an odd failure somewhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import overload

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._source = os.environ if source is None else source

    def _raw(self, name: str) -> str | None:
        value = self._source.get(name)
        return None if value is None else value.strip()

    def fail(self, name: str, why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"Environment variable {name} {why}")

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._raw(name)
        if value is None or value == "":
            if required or default is None:
                raise self.fail(name, "is required but not set")
            return default
        return value

    def optional(self, name: str) -> str | None:
        value = self._raw(name)
        return value or None

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise self.fail(name, f"must be true or false, got {value!r}")

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise self.fail(name, f"must be a whole number, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise self.fail(name, f"must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise self.fail(name, f"must be at most {maximum}, got {number}")
        return number

    def cron(self, name: str, default: str) -> str:
        """A five-field crontab expression (minute hour day-of-month month day-of-week, as crontab(5)),
        checked by Celery's own parser so that a bad one fails at start-up, not in the beat schedule."""
        value = self.string(name, default)
        try:
            cron(value)
        except ValueError as exc:
            raise self.fail(name, f"is not a valid crontab expression ({exc}), got {value!r}") from None
        return value

    def csv(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self._raw(name)
        if value is None or value == "":
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._raw(name) or default
        if value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    @overload
    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str: ...
    @overload
    def url(self, name: str, default: None = None, *, schemes: tuple[str, ...]) -> str | None: ...
    def url(self, name: str, default: str | None = None, *, schemes: tuple[str, ...]) -> str | None:
        value = self._raw(name) or default
        if value is None:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else value.split(":", 1)[0]
        if scheme not in schemes:
            raise self.fail(
                name, f"must start with one of {', '.join(s + ':' for s in schemes)}, got {value!r}"
            )
        return value

    def path(self, name: str, default: Path) -> Path:
        value = self._raw(name)
        return Path(value).expanduser() if value else default


def cron(expression: str) -> crontab:
    """A Celery crontab from a five-field expression as written in settings (minute hour day-of-month
    month day-of-week); ValueError when it is not one."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"5 fields (minute hour day month weekday), not {len(fields)}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
    )


env = Env()
