"""JSON from a request, read one way on every route: duplicate keys and non-objects are refused.

The standard `json` (and orjson) keep the last of two equal keys, so `{"grade": "satisfied", "grade":
"very_dissatisfied"}` would be stored as whichever came last; a rating whose grade is ambiguous must not
be stored. Every refusal here is `BODY_MALFORMED`, which the routes answer with 400 (docs/signing.md,
"Refusals"): the body is not what the route takes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hub.errors import Refused, problem

# A JSON string token; outside strings a JSON text has no quote character, so scanning tokens from the
# left finds every string, and those followed by a colon are the object keys.
_KEY = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:')
_KEY_TEXT = re.compile(r'"(?:[^"\\]|\\.)*"\s*:')


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
    return Refused([problem("BODY_MALFORMED", "", f'duplicate key "{key[:60]}"')])


def not_an_object(what: str) -> Refused:
    return Refused([problem("BODY_MALFORMED", "", f"the body must be {what}")])


def loads(text: str | bytes) -> Any:
    """The document, refusing a syntax error or a duplicate key (`Refused`, BODY_MALFORMED)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except DuplicateKey as exc:
        raise duplicate_key_refusal(exc.key) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused([problem("BODY_MALFORMED", "", f"JSON: {exc}"[:200])]) from None


def loads_object(text: str | bytes, what: str = "a JSON object") -> dict[str, Any]:
    """`loads`, for a route that takes one object."""
    document = loads(text)
    if not isinstance(document, dict):
        raise not_an_object(what)
    return document


def count_keys(document: Any) -> int:
    """How many object keys a decoded document holds (all depths)."""
    if isinstance(document, dict):
        return len(document) + sum(count_keys(v) for v in document.values() if v.__class__ in (dict, list))
    if isinstance(document, list):
        return sum(count_keys(v) for v in document if v.__class__ in (dict, list))
    return 0


def check_no_duplicates(raw: str | bytes, document: Any) -> None:
    """For a document a fast parser decoded: as many keys in the text as in the result, else the duplicate
    is found (and named) by `loads`. The scan costs a fraction of a parse; the slow path runs only on a
    body that does hold a duplicate."""
    pattern = _KEY if isinstance(raw, bytes) else _KEY_TEXT
    written = sum(1 for _ in pattern.finditer(raw))  # type: ignore[arg-type]
    if written != count_keys(document):
        loads(raw)
