"""SQL that Django's SQLite backend delegates to Python functions, rewritten in plain SQLite SQL.

Django registers django_date_extract(), django_datetime_trunc() and friends on every sqlite3
connection; libsql cannot register Python functions, so extracts, truncations and date/time casts
become strftime()/date() expressions. SQLite has no time zone database: they work when the
requested zone is the one values are stored in (UTC here) and raise NotSupportedError otherwise.
"""

from __future__ import annotations

from typing import Any

from django.db import NotSupportedError
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations
from django.db.models import aggregates, functions

Params = tuple[Any, ...]

# The ISO week and ISO year are those of the Thursday in the same Monday-to-Sunday week.
_THURSDAY = "date({}, '-3 days', 'weekday 4')"
_EXTRACT = {
    "year": "CAST(STRFTIME('%%Y', {}) AS INTEGER)",
    "month": "CAST(STRFTIME('%%m', {}) AS INTEGER)",
    "day": "CAST(STRFTIME('%%d', {}) AS INTEGER)",
    "hour": "CAST(STRFTIME('%%H', {}) AS INTEGER)",
    "minute": "CAST(STRFTIME('%%M', {}) AS INTEGER)",
    "second": "CAST(STRFTIME('%%S', {}) AS INTEGER)",
    "week_day": "(CAST(STRFTIME('%%w', {}) AS INTEGER) + 1)",
    "iso_week_day": "((CAST(STRFTIME('%%w', {}) AS INTEGER) + 6) %% 7 + 1)",
    "quarter": "((CAST(STRFTIME('%%m', {}) AS INTEGER) + 2) / 3)",
    "week": f"((CAST(STRFTIME('%%j', {_THURSDAY}) AS INTEGER) - 1) / 7 + 1)",
    "iso_year": f"CAST(STRFTIME('%%Y', {_THURSDAY}) AS INTEGER)",
}
_QUARTER_START = (
    "date({0}, 'start of month', '-' || ((CAST(STRFTIME('%%m', {0}) AS INTEGER) - 1) %% 3) || ' months')"
)
_DATE_TRUNC = {
    "year": "STRFTIME('%%Y-01-01', {0})",
    "quarter": _QUARTER_START,
    "month": "STRFTIME('%%Y-%%m-01', {0})",
    "week": "date({0}, '-6 days', 'weekday 1')",
    "day": "date({0})",
}
_DATETIME_TRUNC = {
    **{kind: f"({sql} || ' 00:00:00')" for kind, sql in _DATE_TRUNC.items()},
    "hour": "STRFTIME('%%Y-%%m-%%d %%H:00:00', {0})",
    "minute": "STRFTIME('%%Y-%%m-%%d %%H:%%M:00', {0})",
    "second": "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%S', {0})",
}
_TIME_TRUNC = {
    "hour": "STRFTIME('%%H:00:00', {0})",
    "minute": "STRFTIME('%%H:%%M:00', {0})",
    "second": "STRFTIME('%%H:%%M:%%S', {0})",
}
# Keeps the microseconds Django stores after the seconds ("... 12:30:05.000250").
_CAST_TIME = "(STRFTIME('%%H:%%M:%%S', {0}) || COALESCE(SUBSTR({0}, NULLIF(INSTR({0}, '.'), 0)), ''))"

_NO_SQL_EQUIVALENT = (
    functions.MD5,
    functions.SHA1,
    functions.SHA224,
    functions.SHA256,
    functions.SHA384,
    functions.SHA512,
    functions.LPad,
    functions.RPad,
    functions.Repeat,
    functions.Mod,
    aggregates.StdDev,
    aggregates.Variance,
)


def _render(templates: dict[str, str], kind: str, sql: str, params: Params) -> tuple[str, Params]:
    template = templates.get(kind.lower())
    if template is None:
        raise NotSupportedError(f"The libSQL backend cannot compute {kind!r} in SQL.")
    uses = template.count("{0}") or template.count("{}")
    return template.format(sql, sql), tuple(params) * uses


class DatabaseOperations(SQLiteOperations):
    compiler_module = "config.libsql.compiler"

    def _check_zone(self, tzname: str | None) -> None:
        if tzname is not None and tzname != self.connection.timezone_name:
            raise NotSupportedError(
                f"libSQL has no time zone database: cannot convert to {tzname!r} "
                f"(values are stored in {self.connection.timezone_name!r})."
            )

    def date_extract_sql(self, lookup_type: str, sql: str, params: Params) -> tuple[str, Params]:
        return _render(_EXTRACT, lookup_type, sql, params)

    def datetime_extract_sql(
        self, lookup_type: str, sql: str, params: Params, tzname: str | None
    ) -> tuple[str, Params]:
        self._check_zone(tzname)
        return _render(_EXTRACT, lookup_type, sql, params)

    def time_extract_sql(self, lookup_type: str, sql: str, params: Params) -> tuple[str, Params]:  # type: ignore[override]
        return _render(_EXTRACT, lookup_type, sql, params)

    def date_trunc_sql(
        self, lookup_type: str, sql: str, params: Params, tzname: str | None = None
    ) -> tuple[str, Params]:
        self._check_zone(tzname)
        return _render(_DATE_TRUNC, lookup_type, sql, params)

    def datetime_trunc_sql(  # type: ignore[override]
        self, lookup_type: str, sql: str, params: Params, tzname: str | None
    ) -> tuple[str, Params]:
        self._check_zone(tzname)
        return _render(_DATETIME_TRUNC, lookup_type, sql, params)

    def time_trunc_sql(  # type: ignore[override]
        self, lookup_type: str, sql: str, params: Params, tzname: str | None = None
    ) -> tuple[str, Params]:
        self._check_zone(tzname)
        return _render(_TIME_TRUNC, lookup_type, sql, params)

    def datetime_cast_date_sql(self, sql: str, params: Params, tzname: str | None) -> tuple[str, Params]:
        self._check_zone(tzname)
        return f"date({sql})", tuple(params)

    def datetime_cast_time_sql(self, sql: str, params: Params, tzname: str | None) -> tuple[str, Params]:
        self._check_zone(tzname)
        return _render({"time": _CAST_TIME}, "time", sql, params)

    def combine_duration_expression(self, connector: str, sub_expressions: list[str]) -> str:
        raise NotSupportedError("The libSQL backend cannot add durations to dates in SQL.")

    def subtract_temporals(self, internal_type: str, lhs: Any, rhs: Any) -> tuple[str, Params]:
        raise NotSupportedError("The libSQL backend cannot subtract dates or times in SQL.")

    def check_expression_support(self, expression: Any) -> None:
        if isinstance(expression, _NO_SQL_EQUIVALENT):
            raise NotSupportedError(
                f"{type(expression).__name__} needs a Python SQL function, which libSQL cannot register."
            )
        super().check_expression_support(expression)
