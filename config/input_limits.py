"""Limits every structured or text input shares, for the API and the HTML forms alike.

- JSON (an API body, a JSON form field) is refused above `JSON_MAX_BYTES` or nested deeper than
  `JSON_MAX_DEPTH`, before it is parsed: Python's parser recurses, so `[` 3,000 deep would raise
  RecursionError (a 500) instead of a clear 4xx.
- Text may not hold NUL or other control characters (C0 except tab, line feed and carriage
  return; DEL). Databases cut text at a NUL or refuse it, and control characters spoof logs and
  screens; Django's form fields already refuse NUL, this refuses the rest too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 20

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class InputRefused(ValueError):
    """An input over a limit or with forbidden characters; the message says which, for the user."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def json_depth(text: str, *, stop_above: int | None = None) -> int:
    """How deeply arrays and objects nest in `text` (strings skipped); stops early past `stop_above`."""
    depth = peak = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            peak = max(peak, depth)
            if stop_above is not None and peak > stop_above:
                break
        else:
            depth -= 1
    return peak


def json_loads_bounded(
    raw: str | bytes, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH
) -> Any:
    """json.loads within the limits; InputRefused (a ValueError) when over one or malformed."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise InputRefused(f"The JSON is {size} bytes; at most {max_bytes} are accepted.")
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if json_depth(text, stop_above=max_depth) > max_depth:
        raise InputRefused(f"The JSON nests deeper than {max_depth} levels.")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputRefused(f"Not valid JSON: {exc.args[0] if exc.args else exc}") from None


def control_character_problem(text: str) -> str | None:
    found = _CONTROL.search(text)
    if found is None:
        return None
    return f"Control characters are not allowed (found U+{ord(found.group()):04X})."


def reject_control_characters(value: str) -> None:
    """A Django validator (form or model field) for the same rule."""
    problem = control_character_problem(value)
    if problem:
        raise ValidationError(problem, code="control_characters")


def find_control_characters(data: Any, path: str = "") -> InputRefused | None:
    """The first string (key or value) in decoded JSON holding a control character, by its path."""
    if isinstance(data, str):
        problem = control_character_problem(data)
        return InputRefused(problem, field=path) if problem else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            found = find_control_characters(str(key), where) or find_control_characters(value, where)
            if found:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = find_control_characters(value, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None
