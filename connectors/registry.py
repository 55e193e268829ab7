"""The built-in source families, each a spec in `connectors/specs/`, and per-connector settings."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from connectors.base import Adapter
from connectors.engine import SpecAdapter
from connectors.spec import ConnectorSpec


def builtin_kinds() -> list[str]:
    specs = resources.files("connectors") / "specs"
    return sorted(p.name.removesuffix(".json") for p in specs.iterdir() if p.name.endswith(".json"))


@cache
def builtin_spec(kind: str) -> ConnectorSpec:
    path = resources.files("connectors") / "specs" / f"{kind}.json"
    if not path.is_file():
        raise KeyError(f"no built-in source family {kind!r}; known: {', '.join(builtin_kinds())}")
    return ConnectorSpec.model_validate(json.loads(path.read_text("utf-8")))


@cache
def _builtin_adapter(kind: str) -> SpecAdapter:
    return SpecAdapter(builtin_spec(kind))


def adapter_for(kind: str, settings: dict[str, Any] | None = None) -> Adapter:
    """The adapter of a built-in family, with one connector's settings (tables, formats) applied."""
    if not settings:
        return _builtin_adapter(kind)
    return SpecAdapter(builtin_spec(kind).with_settings(settings))
