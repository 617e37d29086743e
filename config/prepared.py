"""Rows read and written without the ORM's per-call SQL compilation, for the few queries on a hot path.

`Model.objects.create()` builds the same INSERT again on every call: a query object, a compiler, the
quoted column list, each value through the field's preparation. On a paper order (issue 11) that
was about half of the web process's CPU for the order's three inserts. Here each statement's text is
built once per database alias (and per list length or row count where it has one) and only the
values are prepared each time, by the model's own fields: `pre_save` for auto_now and the like and
`get_db_prep_save` for the column's form, exact decimals included, so what is stored is what
`save()` would store; what is read is decoded by the field's `from_db_value`, as the ORM returns it.

- `PreparedInsert(Model)`: one row, many rows (BATCH a statement), or many with their new keys;
- `PreparedSelect(Model, columns, where=..., where_in=...)`: rows matching `= %s` and `IN (...)`;
- `PreparedUpdate(Model, columns)`: many saved rows' columns in one statement (`CASE pk WHEN`).

This module is the one place that writes raw SQL for such paths. What it skips, on purpose: model
signals (none of the models it is used for has receivers) and `full_clean` (neither does
`create()`). It runs on the caller's connection, inside the caller's transaction; triggers (shadow
mode's capture) see it like any other statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import AutoField, BigAutoField, Field, Model, SmallAutoField
from django.db.models.constants import OnConflict

M = TypeVar("M", bound=Model)
_AUTO = (AutoField, BigAutoField, SmallAutoField)
BATCH = 100  # rows a statement, well under SQLite's limit of bound values


class PreparedInsert(Generic[M]):
    """INSERTs of `model` rows (every concrete column but an auto primary key)."""

    def __init__(self, model: type[M], *, ignore_conflicts: bool = False) -> None:
        self.model = model
        self.fields: list[Field[Any, Any]] = [
            f for f in model._meta.concrete_fields if not isinstance(f, _AUTO)
        ]
        self.ignore_conflicts = ignore_conflicts
        self._heads: dict[str, tuple[str, str]] = {}
        self._keyed: dict[str, PreparedSelect] = {}  # key column -> the read-back of new keys

    def _head(self, alias: str) -> tuple[str, str]:
        """("INSERT ... VALUES ", "(%s, ...)") for the alias's backend, built once."""
        head = self._heads.get(alias)
        if head is None:
            connection = connections[alias]
            quote = connection.ops.quote_name
            columns = ", ".join(quote(str(f.column)) for f in self.fields)
            verb = connection.ops.insert_statement(
                on_conflict=OnConflict.IGNORE if self.ignore_conflicts else None
            )
            head = (
                f"{verb} {quote(self.model._meta.db_table)} ({columns}) VALUES ",
                "(" + ", ".join(["%s"] * len(self.fields)) + ")",
            )
            self._heads[alias] = head
        return head

    def insert(self, row: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
        """Inserts `row` and sets its primary key, as `row.save(force_insert=True)` would."""
        connection = connections[using]
        verb, values = self._head(using)
        params = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(verb + values, params)
            row.pk = cursor.lastrowid
        row._state.adding = False
        row._state.db = using
        return row

    def insert_many(self, rows: Sequence[M], *, using: str = DEFAULT_DB_ALIAS) -> None:
        """Inserts `rows`, BATCH a statement (their primary keys are not read back)."""
        if not rows:
            return
        connection = connections[using]
        verb, values = self._head(using)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                params = [
                    f.get_db_prep_save(f.pre_save(r, True), connection) for r in batch for f in self.fields
                ]
                cursor.execute(verb + ", ".join([values] * len(batch)), params)
        for row in rows:
            row._state.adding = False
            row._state.db = using

    def insert_keyed(self, rows: Sequence[M], *, key: str, using: str = DEFAULT_DB_ALIAS) -> None:
        """Inserts `rows`, BATCH a statement, and sets each one's primary key, matched by `key` (the
        name of a unique text column, set on every row): read with RETURNING where the backend has
        it, else with one SELECT of the new keys. Raises IntegrityError as `insert` does."""
        if not rows:
            return
        connection = connections[using]
        verb, values = self._head(using)
        quote = connection.ops.quote_name
        returning = f" RETURNING {quote(_column(self.model, 'pk'))}, {quote(_column(self.model, key))}"
        can_return = connection.features.can_return_rows_from_bulk_insert
        found: dict[str, int] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                params = [
                    f.get_db_prep_save(f.pre_save(r, True), connection) for r in batch for f in self.fields
                ]
                sql = verb + ", ".join([values] * len(batch))
                if can_return:
                    cursor.execute(sql + returning, params)
                    found.update((k, pk) for pk, k in cursor.fetchall())
                else:
                    cursor.execute(sql, params)
        if not can_return:
            keyed = self._keyed.get(key)
            if keyed is None:
                keyed = self._keyed[key] = PreparedSelect(self.model, ["pk", key], where_in=[key])
            found.update((k, pk) for pk, k in keyed.rows([getattr(row, key) for row in rows], using=using))
        for row in rows:
            row.pk = found[getattr(row, key)]
            row._state.adding = False
            row._state.db = using


class PreparedSelect:
    """SELECTs of some columns of `model` rows matching every filter: `where` (field names, each
    `= %s`) and `where_in` (field names, each `IN (%s, ...)` over a list of values). The text is built
    once per alias and list lengths (callers' batches bound those), and each value is decoded by its
    field (`from_db_value`: exact decimals, JSON lists), as the ORM would return it. `order_by`: field
    names, ascending. Raises ValueError without any filter."""

    def __init__(
        self,
        model: type[Model],
        columns: Sequence[str],
        *,
        where: Sequence[str] = (),
        where_in: Sequence[str] = (),
        order_by: Sequence[str] = (),
    ) -> None:
        if not where and not where_in:
            raise ValueError("PreparedSelect needs at least one filter")
        self.model = model
        self.fields = [_field(model, name) for name in columns]
        self._columns = [_column(model, name) for name in columns]
        self._where = [_column(model, name) for name in where]
        self._where_in = [_column(model, name) for name in where_in]
        self._order_by = [_column(model, name) for name in order_by]
        self._texts: dict[tuple[str, tuple[int, ...]], str] = {}

    def _text(self, alias: str, lengths: tuple[int, ...]) -> str:
        text = self._texts.get((alias, lengths))
        if text is None:
            quote = connections[alias].ops.quote_name
            tests = [f"{quote(column)} = %s" for column in self._where] + [
                f"{quote(column)} IN ({_marks(length)})"
                for column, length in zip(self._where_in, lengths, strict=True)
            ]
            text = (
                f"SELECT {', '.join(quote(column) for column in self._columns)} "  # noqa: S608
                f"FROM {quote(self.model._meta.db_table)} WHERE {' AND '.join(tests)}"
            )
            if self._order_by:
                text += f" ORDER BY {', '.join(quote(column) for column in self._order_by)}"
            self._texts[(alias, lengths)] = text
        return text

    def rows(self, *values: Any, using: str = DEFAULT_DB_ALIAS) -> list[tuple[Any, ...]]:
        """The matching rows, each a tuple of the columns' values in the order asked for. `values`: one
        value per `where` field, then one sequence per `where_in` field (an empty one matches nothing:
        no statement is run)."""
        plain = values[: len(self._where)]
        lists: tuple[Sequence[Any], ...] = values[len(self._where) :]
        if len(lists) != len(self._where_in):
            raise TypeError(f"expected {len(self._where)} values and {len(self._where_in)} lists")
        if not all(lists):
            return []
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(
                self._text(using, tuple(len(each) for each in lists)),
                [*plain, *(value for each in lists for value in each)],
            )
            raw = cursor.fetchall()
        decoders = [getattr(f, "from_db_value", None) for f in self.fields]
        return [
            tuple(d(v, None, connection) if d is not None else v for d, v in zip(decoders, row, strict=True))
            for row in raw
        ]


class PreparedUpdate(Generic[M]):
    """UPDATEs of some columns of existing `model` rows, any number of rows in ONE statement (each
    column `CASE <pk> WHEN %s THEN %s ... END`, the rows picked by `<pk> IN (...)`), as Django's
    `bulk_update` builds it but with the text built once per alias and row count. Each value is
    prepared as `row.save(update_fields=columns)` would prepare it: `pre_save` (an auto_now column is
    stamped now), then `get_db_prep_save` (exact decimals)."""

    def __init__(self, model: type[M], columns: Sequence[str]) -> None:
        self.model = model
        self.fields = [_field(model, name) for name in columns]
        self._pk = _field(model, "pk")
        self._texts: dict[tuple[str, int], str] = {}

    def _text(self, alias: str, count: int) -> str:
        text = self._texts.get((alias, count))
        if text is None:
            quote = connections[alias].ops.quote_name
            pk = quote(str(self._pk.column))
            cases = " ".join(["WHEN %s THEN %s"] * count)
            text = (
                f"UPDATE {quote(self.model._meta.db_table)} SET "  # noqa: S608
                + ", ".join(f"{quote(str(f.column))} = CASE {pk} {cases} END" for f in self.fields)
                + f" WHERE {pk} IN ({_marks(count)})"
            )
            self._texts[(alias, count)] = text
        return text

    def update_many(self, rows: Sequence[M], *, using: str = DEFAULT_DB_ALIAS) -> None:
        """Writes the columns of every row of `rows` (each saved before, each once) in one statement;
        none for no rows."""
        if not rows:
            return
        connection = connections[using]
        keys = [self._pk.get_db_prep_value(row.pk, connection) for row in rows]
        params: list[Any] = []
        for f in self.fields:
            for key, row in zip(keys, rows, strict=True):
                params += (key, f.get_db_prep_save(f.pre_save(row, False), connection))
        with connection.cursor() as cursor:
            cursor.execute(self._text(using, len(rows)), params + keys)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _column(model: type[Model], name: str) -> str:
    column = _field(model, name).column
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return column


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)
