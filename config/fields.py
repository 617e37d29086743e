"""Exact decimal columns on SQLite and libSQL: a fixed-width TEXT encoding that sorts like the numbers.

SQLite has no decimal type: a `decimal` column has NUMERIC affinity, which stores 12345672.12345678
as a REAL and reads it back as 12345672.1234568 (15 significant digits). `ExactDecimalField` stores
every value as TEXT of one fixed shape instead, on the embedded file and on sqld alike:

    P000000000012345672.123456780000000000    12345672.12345678
    N999999999999999998.499999999999999999    -1.5 (nines' complement of 1.5)

a sign letter ('N' sorts before 'P'), 18 integer digits, a point and 18 decimal places; a negative
value's digits are the nines' complement of its magnitude, so a larger loss sorts first. Plain
string comparison therefore orders and filters exactly like the numbers (`ORDER BY`, `<`, `MIN`,
`MAX`, range filters and the models' CHECK constraints all stay right), for every field of this
class whatever its own max_digits, since all share the one width.

What SQL cannot do on this text is arithmetic: `Sum`, `Avg`, `F("a") + 1` would see 0. Such
expressions are refused (`refuse_sql_arithmetic`, called from the backend's
check_expression_support) and a number read back where encoded text was expected raises
`TypeError` rather than pass for a value; sums are taken in Python (`exact_sum`). Other database
vendors keep their native decimal column and values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django import forms
from django.core import checks
from django.core.exceptions import FieldError
from django.db import NotSupportedError, models
from django.db.models import Aggregate, Avg, StdDev, Sum, Variance
from django.db.models.expressions import CombinedExpression

INTEGER_DIGITS = 18
PLACES = 18
# Wide enough that no step below ever rounds (the default context keeps 28 digits).
_CONTEXT = Context(prec=2 * (INTEGER_DIGITS + PLACES))
_LIMIT = 10 ** (INTEGER_DIGITS + PLACES)
_ENCODED = re.compile(rf"^([NP])(\d{{{INTEGER_DIGITS}}})\.(\d{{{PLACES}}})$")
_ARITHMETIC = (Sum, Avg, StdDev, Variance)


def encode(value: Decimal) -> str:
    """The sortable text of `value`; raises ValueError for what the encoding cannot hold exactly
    (more than 18 integer digits, more than 18 decimal places, NaN or infinity)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    try:
        scaled = value.scaleb(PLACES, context=_CONTEXT)
        units = int(scaled)
    except (InvalidOperation, OverflowError):
        raise ValueError(f"{value} does not fit an exact decimal column") from None
    if Decimal(units) != scaled:
        raise ValueError(f"{value} has more than {PLACES} decimal places")
    if abs(units) >= _LIMIT:
        raise ValueError(f"{value} has more than {INTEGER_DIGITS} integer digits")
    sign, digits = ("P", units) if units >= 0 else ("N", _LIMIT - 1 + units)
    text = f"{digits:0{INTEGER_DIGITS + PLACES}d}"
    return f"{sign}{text[:INTEGER_DIGITS]}.{text[INTEGER_DIGITS:]}"


def decode(text: str) -> Decimal:
    """The Decimal that `encode` wrote as `text`; raises ValueError on anything else."""
    match = _ENCODED.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an encoded exact decimal")
    sign, whole, fraction = match.groups()
    units = int(whole + fraction)
    if sign == "N":
        units = units - _LIMIT + 1
    return Decimal(units).scaleb(-PLACES, context=_CONTEXT)


def exact_sum(values: Iterable[Decimal | None]) -> Decimal:
    """The exact sum of decimal values (None counts as nothing), for what SQL cannot add here."""
    return sum((v for v in values if v is not None), Decimal(0))


def _stores_text(connection: Any) -> bool:
    return bool(connection.vendor == "sqlite")


def refuse_sql_arithmetic(expression: Any) -> None:
    """Raise NotSupportedError for SQL arithmetic over an ExactDecimalField (see the module doc).
    Backends storing the encoding call this from `DatabaseOperations.check_expression_support`."""
    if isinstance(expression, Aggregate) and not isinstance(expression, _ARITHMETIC):
        return
    if not isinstance(expression, (*_ARITHMETIC, CombinedExpression)):
        return
    for source in expression.get_source_expressions():
        try:
            field = source.output_field
        except (AttributeError, FieldError):
            continue
        if isinstance(field, ExactDecimalField):
            raise NotSupportedError(
                f"{type(expression).__name__} over {field.name or 'an exact decimal'} cannot run in SQL: "
                "the column holds sortable text; add the values in Python (config.fields.exact_sum)."
            )


class NormalizedDecimalField(forms.DecimalField):
    """A form's decimal field that shows a value as the number it is: the columns keep 18 places, so
    a stored 20 reads back as 20.000000000000000000, which an edit form must show as 20 (and 0.06,
    30.5). What the user typed is shown back as typed. Every ExactDecimalField's model form field
    is one of these; plain forms use it directly."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{value.normalize():f}"
        return value


if TYPE_CHECKING:
    # The stubs' DecimalField is generic (set and get types); Django's class is not subscriptable at run time.
    _DecimalField = models.DecimalField[Any, Any]
else:
    _DecimalField = models.DecimalField


class ExactDecimalField(_DecimalField):
    """A DecimalField that round-trips 36 digits (18 before and 18 after the point) on SQLite."""

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        digits, places = self.max_digits, self.decimal_places
        if (
            isinstance(digits, int)
            and isinstance(places, int)
            and (places > PLACES or digits - places > INTEGER_DIGITS)
        ):
            errors.append(
                checks.Error(
                    f"An ExactDecimalField holds at most {INTEGER_DIGITS} integer digits and "
                    f"{PLACES} decimal places.",
                    obj=self,
                    id="brute.E001",
                )
            )
        return errors

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": NormalizedDecimalField, **kwargs})

    def get_internal_type(self) -> str:
        # Not "DecimalField": SQLite backends then attach their float-based decimal converter.
        return "ExactDecimalField"

    def db_type(self, connection: Any) -> str | None:
        if _stores_text(connection):
            return "text"
        return str(connection.data_types["DecimalField"] % self.db_type_parameters(connection))

    def cast_db_type(self, connection: Any) -> str | None:
        return self.db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        if not _stores_text(connection):
            return connection.ops.adapt_decimalfield_value(value, self.max_digits, self.decimal_places)
        return encode(self._quantized(value))

    def _quantized(self, value: Decimal) -> Decimal:
        # More places than the field keeps are rounded half-even, as Django rounds decimals for
        # databases with a native type; the digits that remain are stored exactly.
        places = self.decimal_places if isinstance(self.decimal_places, int) else PLACES
        try:
            return value.quantize(Decimal(1).scaleb(-places), context=_CONTEXT)
        except InvalidOperation:
            raise ValueError(f"{value} does not fit {self.name or 'an exact decimal column'}") from None

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if not _stores_text(connection):
            parsed: Decimal | None = self.to_python(value)
            return parsed
        if not isinstance(value, str):
            raise TypeError(
                f"{self.name or 'an exact decimal'} came back from SQL as {type(value).__name__} "
                f"{value!r}: SQL arithmetic on exact decimal text is meaningless (see config.fields)"
            )
        decoded = decode(value)
        return self._quantized(decoded) if isinstance(self.decimal_places, int) else decoded


def _from_legacy(raw: Any) -> Decimal | None:
    """A value a NUMERIC `decimal` column held: an int, a float (already rounded to 15 digits by
    SQLite; its shortest repr is the best reading of it) or text it could not convert."""
    if raw is None:
        return None
    if isinstance(raw, str) and _ENCODED.match(raw):
        return decode(raw)
    return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))


def reencode_columns(schema_editor: Any, columns: dict[str, Iterable[str]], *, forward: bool = True) -> None:
    """Rewrite existing values of `{table: [column, ...]}` into the sortable text (or, with
    forward=False, back into plain decimal text for a NUMERIC column). For data migrations that run
    just before the columns become ExactDecimalField, so the rebuilt tables' CHECK constraints,
    which compare encoded text, already hold."""
    connection = schema_editor.connection
    if not _stores_text(connection):
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, names in columns.items():
            names = list(names)
            cursor.execute(f"SELECT id, {', '.join(map(quote, names))} FROM {quote(table)}")  # noqa: S608
            rows = cursor.fetchall()
            sets = ", ".join(f"{quote(name)} = %s" for name in names)
            update = f"UPDATE {quote(table)} SET {sets} WHERE id = %s"  # noqa: S608
            changed = []
            for pk, *raws in rows:
                values = [_from_legacy(raw) for raw in raws]
                if forward:
                    text = [
                        None
                        if v is None
                        else encode(v.quantize(Decimal(1).scaleb(-PLACES), context=_CONTEXT))
                        for v in values
                    ]
                else:
                    text = [None if v is None else f"{v.normalize():f}" for v in values]
                changed.append([*text, pk])
            if changed:
                cursor.executemany(update, changed)
