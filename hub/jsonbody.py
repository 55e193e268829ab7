"""JSON from a request, read one way on every route: duplicate keys and non-objects are refused.

The standard `json` (and orjson) keep the last of two equal keys, so `{"grade": "satisfied", "grade":
"very_dissatisfied"}` would be stored as whichever came last; a rating whose grade is ambiguous must not
be stored. Every refusal here is `BODY_MALFORMED`, which the routes answer with 400 (docs/signing.md,
"Refusals"): the body is not what the route takes.
"""

from __future__ import annotations

import json
from typing import Any

from hub.errors import Refused, problem


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return found


def duplicate_key_refusal(key: str) -> Refused:
    shown = key[:60]
    return Refused([problem("BODY_MALFORMED", "", f'duplicate key "{shown}"', detail_zh=f'字段 "{shown}" 出现了两次')])


def not_an_object(what: str, what_zh: str = "一个 JSON 对象") -> Refused:
    return Refused([problem("BODY_MALFORMED", "", f"the body must be {what}", detail_zh=f"报文应为{what_zh}")])


def syntax_error(exc: json.JSONDecodeError) -> Refused:
    """BODY_MALFORMED with where the JSON breaks, in both languages."""
    return Refused([problem("BODY_MALFORMED", "", f"JSON: {exc}"[:200],
                            detail_zh=f"JSON 语法错误（第 {exc.lineno} 行第 {exc.colno} 列）")])  # fmt: skip


def loads(text: str | bytes) -> Any:
    """The document, refusing a syntax error or a duplicate key (`Refused`, BODY_MALFORMED)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except DuplicateKey as exc:
        raise duplicate_key_refusal(exc.key) from None
    except json.JSONDecodeError as exc:
        raise syntax_error(exc) from None
    except UnicodeDecodeError as exc:
        raise Refused([problem("BODY_UNDECODABLE", "", f"UTF-8 (byte {exc.start})",
                               detail_zh=f"UTF-8 编码（第 {exc.start} 字节起不符）")]) from None  # fmt: skip


def loads_object(text: str | bytes, what: str = "a JSON object", what_zh: str = "一个 JSON 对象") -> dict[str, Any]:
    """`loads`, for a route that takes one object."""
    document = loads(text)
    if not isinstance(document, dict):
        raise not_an_object(what, what_zh)
    return document
