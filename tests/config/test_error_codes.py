"""The one registry of API error codes (config.errors.ERROR_CODES): every code the code can raise is
in it, and the OpenAPI docs list every one of them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from config.errors import ERROR_CODES

APPS = ("config", "trading", "accounts", "backups")
# Calls whose `code` is an API error code (Django's ValidationError codes are not: the API answers
# those as validation_error with the field named).
RAISERS = {"refuse", "error_response", "BruteError", "Conflict", "Forbidden", "NotFound", "InvalidInput"}


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _codes_in(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "refuse" and node.args and (code := _text(node.args[0])):
                yield code
            if name in RAISERS:
                yield from (c for kw in node.keywords if kw.arg == "code" and (c := _text(kw.value)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {getattr(t, "id", "") for t in targets}
            # `code = "..."` on an error class, `RISK_CODE = "..."`, `REFUSAL_CODES = ((cls, "..."), ...)`
            if names & {"code"} or any(n.endswith("_CODE") and n != "LANGUAGE_CODE" for n in names):
                yield from filter(None, [_text(node.value)])
            if any(n.endswith("REFUSAL_CODES") for n in names) and node.value is not None:
                yield from (c for e in ast.walk(node.value) if (c := _text(e)))
        elif isinstance(node, ast.Dict):  # a body built by hand: {"code": "...", ...}
            for key, value in zip(node.keys, node.values, strict=True):
                if _text(key) == "code" and (code := _text(value)):
                    yield code


def _raised_codes() -> dict[str, str]:
    base = Path(settings.BASE_DIR)
    found: dict[str, str] = {}
    for app in APPS:
        for path in (base / app).rglob("*.py"):
            if "migrations" in path.parts or "simexchange" in path.parts:  # the fake MEXC speaks MEXC's codes
                continue
            for code in _codes_in(ast.parse(path.read_text(), str(path))):
                found.setdefault(code, str(path.relative_to(base)))
    return found


def test_every_code_the_api_can_answer_is_in_the_registry() -> None:
    raised = _raised_codes()
    assert {"risk_limit", "order_type_not_allowed", "service_unavailable", "locked_out"} <= raised.keys()
    assert {code: where for code, where in raised.items() if code not in ERROR_CODES} == {}


def test_the_openapi_docs_list_every_registered_code() -> None:
    from config.api import api

    schema = api.get_openapi_schema()
    listed = schema["components"]["schemas"]["ErrorBodyOut"]["properties"]["code"]["description"]
    assert [code for code in ERROR_CODES if f"`{code}`" not in listed] == []


def test_the_readme_gives_a_reused_idempotency_key_the_status_the_api_answers() -> None:
    from config.api_idempotency import IdempotencyKeyReused

    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    rows = [
        line for line in readme.splitlines() if line.startswith("|") and "`idempotency_key_reused`" in line
    ]
    assert rows
    assert all(row.startswith(f"| {IdempotencyKeyReused.status} |") for row in rows)
