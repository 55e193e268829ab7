"""Every place a published request schema forbids a field, as a body that sends one there.

`forbidden_extras(schema, example)` walks a valid example beside its JSON Schema and, at every object
whose schema says `additionalProperties: false`, yields the path and a copy of the example with one
field too many there. A route that agrees with its schema refuses each copy with FIELD_UNKNOWN at
that path (issue 11, item 1).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXTRA = "zz_extra"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text("utf-8"))


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def forbidden_extras(document: dict[str, Any], example: Any) -> Iterator[tuple[str, Any]]:
    defs = document.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        for option in node.get("anyOf", ()):  # `X | None`: the object's own schema
            option = resolve(option)
            if option.get("type") == "object" or "properties" in option:
                return option
        return node

    def walk(node: dict[str, Any], value: Any, at: list[str | int]) -> Iterator[list[str | int]]:
        node = resolve(node)
        if isinstance(value, dict):
            if node.get("additionalProperties") is False:
                yield at
            for key, inner in value.items():
                yield from walk(node.get("properties", {}).get(key, {}), inner, [*at, key])
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                yield from walk(node.get("items", {}), inner, [*at, index])

    for at in walk(document, example, []):
        mutated = copy.deepcopy(example)
        target = mutated
        for part in at:
            target = target[part]
        target[EXTRA] = 1
        yield _path([*at, EXTRA]), mutated
