"""Turn pydantic's validation errors into the hub's refusals (code, path, messages, rule)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from hub.errors import CATALOG, Problem, problem

# Rules checked on a whole model name the field a person would fix.
_FIELD_OF_RULE = {
    "BAD_RATING_WITHOUT_REASON": "tags",
    "STAFF_RATING_NOT_ALLOWED": "staff_grade",
    "RATED_BEFORE_HANDLED": "rated_at",
    "LEVEL_MISMATCH": "level",
}

_ENUM_CODES = {"grade": "GRADE_UNKNOWN", "staff_grade": "GRADE_UNKNOWN", "channel": "CHANNEL_UNKNOWN"}


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def _code_for(kind: str, path: str) -> str:
    if kind in CATALOG:
        return kind
    if kind == "timezone_aware":
        return "TIME_NAIVE"
    if kind == "missing":
        return "FIELD_REQUIRED"
    if kind == "extra_forbidden":
        return "FIELD_UNKNOWN"
    if kind in ("string_too_long", "too_long"):
        return "FIELD_TOO_LONG"
    if kind.startswith(("datetime", "date_", "timezone")):
        return "TIME_INVALID"
    if kind in ("enum", "literal_error"):
        if path.startswith("tags"):
            return "TAG_UNKNOWN"
        return _ENUM_CODES.get(path.rsplit(".", 1)[-1], "FIELD_INVALID")
    return "FIELD_INVALID"


def problems_from(
    exc: ValidationError, source_path: Callable[[str], str | None] | Mapping[str, str] | None = None
) -> list[Problem]:
    """One `Problem` per pydantic error; `source_path` maps a unified path to the source's field."""
    lookup: Callable[[str], str | None]
    if source_path is None:
        lookup = lambda _p: None  # noqa: E731
    elif isinstance(source_path, Mapping):
        lookup = source_path.get
    else:
        lookup = source_path
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        kind = err["type"]
        path = _path(tuple(err["loc"]))
        if kind in _FIELD_OF_RULE:
            path = f"{path}.{_FIELD_OF_RULE[kind]}" if path else _FIELD_OF_RULE[kind]
        code = _code_for(kind, path)
        detail = _detail(err, code)
        problems.append(problem(code, path, detail, lookup(path)))
    return problems


def _detail(err: Mapping[str, Any], code: str) -> str:
    if code == "FIELD_TOO_LONG":
        ctx = err.get("ctx") or {}
        return f"at most {ctx.get('max_length', '?')} characters"
    if code in ("GRADE_UNKNOWN", "CHANNEL_UNKNOWN", "TAG_UNKNOWN"):
        return repr(err.get("input"))[:80]
    return str(err.get("msg", ""))
