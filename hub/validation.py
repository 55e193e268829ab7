"""Turn pydantic's validation errors into the hub's refusals (code, path, messages, rule)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from hub.errors import CATALOG, Problem, problem, unknown_field

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
    exc: ValidationError,
    source_path: Callable[[str], str | None] | Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """One `Problem` per pydantic error; `source_path` maps a unified path to the source's field. With the
    `model` that was validated, an unknown field says which known one it most likely meant."""
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
        if code == "FIELD_UNKNOWN":
            near = _near(model, tuple(err["loc"])) if model is not None else None
            problems.append(unknown_field(path, near))
            continue
        detail = _detail(err, code)
        problems.append(problem(code, path, detail, lookup(path), detail_zh=detail_zh(err, code, detail)))
    return problems


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The field names of the (nested) model that `loc` points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        current = _model_in(fields[part].annotation)
        if current is None:
            return None
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields is not None else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside `X | None`, `list[X]`, `Annotated[X, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _near(model: type[BaseModel], loc: tuple[int | str, ...]) -> str | None:
    known = _fields_at(model, loc[:-1])
    if not known or not isinstance(loc[-1], str):
        return None
    found = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    return found[0] if found else None


# What pydantic's English says, in Chinese: message_zh reads as Chinese throughout (issue 11, item 6).
_ZH_OF_TYPE = {
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "date_type": "应为日期（YYYY-MM-DD）",
    "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_type": "应为带时区偏移的 ISO 8601 时间",
    "datetime_parsing": "应为带时区偏移的 ISO 8601 时间",
    "datetime_from_date_parsing": "应为带时区偏移的 ISO 8601 时间",
    "timezone_aware": "时间必须带时区偏移",
    "union_tag_invalid": "不是可用的取值",
    "union_tag_not_found": "缺少区分字段",
    "none_required": "应为空",
    "string_pattern_mismatch": "格式不正确",
    "json_invalid": "不是有效的 JSON",
    "url_parsing": "不是有效的网址",
}


def detail_zh(err: Mapping[str, Any], code: str, detail: str) -> str | None:
    """The Chinese detail of a pydantic error, or None when `detail` is a value (it reads the same)."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if code in ("GRADE_UNKNOWN", "CHANNEL_UNKNOWN", "TAG_UNKNOWN"):
        return None  # the value, quoted
    if code == "FIELD_TOO_LONG":
        return f"最多 {ctx.get('max_length', '?')} 个字符"
    if kind in CATALOG:  # our own checks give their Chinese detail beside the English one
        return str(ctx.get("detail_zh", detail))
    if kind in ("enum", "literal_error"):
        return f"取值应为：{ctx.get('expected', '')}"
    if kind in ("too_short", "string_too_short"):
        return f"至少 {ctx.get('min_length', '?')} 个字符" if kind == "string_too_short" else (
            f"至少 {ctx.get('min_length', '?')} 项")
    if kind == "too_long":
        return f"最多 {ctx.get('max_length', '?')} 项"
    for name, zh in (("greater_than_equal", "不得小于"), ("greater_than", "应大于"), ("less_than_equal", "不得大于"),
                     ("less_than", "应小于")):  # fmt: skip
        if kind == name:
            bound = next(iter(ctx.values()), "?")
            return f"{zh} {bound}"
    if kind == "value_error":
        return "取值不符合要求"
    return _ZH_OF_TYPE.get(kind, "取值不符合要求")



def _detail(err: Mapping[str, Any], code: str) -> str:
    if code == "FIELD_TOO_LONG":
        ctx = err.get("ctx") or {}
        return f"at most {ctx.get('max_length', '?')} characters"
    if code in ("GRADE_UNKNOWN", "CHANNEL_UNKNOWN", "TAG_UNKNOWN"):
        return repr(err.get("input"))[:80]
    return str(err.get("msg", ""))
