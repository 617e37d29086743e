"""SQL compilers that render, in plain SQL, the few functions Django's SQLite backend maps to Python.

Django's `as_sqlite()` of Random calls RAND() and Log calls a two-argument LOG(), both registered
as Python functions on sqlite3 connections; libsql has neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import functions
from django.db.models.sql import compiler


def _random(comp: Any, node: functions.Random) -> tuple[str, tuple[Any, ...]]:
    # RANDOM() spans the signed 64-bit range; Django's Random is uniform over [0, 1).
    return "(RANDOM() / 18446744073709551616.0 + 0.5)", ()


def _log(comp: Any, node: functions.Log) -> tuple[str, tuple[Any, ...]]:
    base, value = (comp.compile(expr) for expr in node.get_source_expressions())
    return f"(LN({value[0]}) / LN({base[0]}))", (*value[1], *base[1])


_FALLBACKS: dict[type, Callable[[Any, Any], tuple[str, tuple[Any, ...]]]] = {
    functions.Random: _random,
    functions.Log: _log,
}


class _PlainSQLFunctions(compiler.SQLCompiler):
    # Mixed in before each of Django's compilers: super().compile() is theirs (SQLCompiler's).
    def compile(self, node: Any) -> tuple[str, Any]:
        fallback = _FALLBACKS.get(type(node))
        if fallback is not None:
            return fallback(self, node)
        return super().compile(node)


class SQLCompiler(_PlainSQLFunctions, compiler.SQLCompiler):
    pass


class SQLInsertCompiler(_PlainSQLFunctions, compiler.SQLInsertCompiler):
    pass


class SQLDeleteCompiler(_PlainSQLFunctions, compiler.SQLDeleteCompiler):
    pass


class SQLUpdateCompiler(_PlainSQLFunctions, compiler.SQLUpdateCompiler):
    pass


class SQLAggregateCompiler(_PlainSQLFunctions, compiler.SQLAggregateCompiler):
    pass
