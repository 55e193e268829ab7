"""The built-in source families, each a spec in `connectors/specs/`, per-connector settings, and the
specs departments register themselves (kind `custom`): one mechanism, a `SpecAdapter` over a spec."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from pydantic import ValidationError

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


def adapter_for(kind: str, settings: dict[str, Any] | None = None, spec: str | None = None) -> Adapter:
    """The adapter of a built-in family, or of a registered connector's own `spec` (its text), with the
    connector's settings (tables, formats) applied. A stored spec was checked on registration."""
    if spec is not None:
        from connectors.spec_loader import parse_spec

        loaded = parse_spec(spec).spec
        return SpecAdapter(loaded.with_settings(settings) if settings else loaded)
    if not settings:
        return _builtin_adapter(kind)
    return SpecAdapter(builtin_spec(kind).with_settings(settings))


@lru_cache(maxsize=128)
def _compiled(kind: str, settings_json: str, spec: str | None) -> Adapter:
    return adapter_for(kind, json.loads(settings_json) or None, spec)


def compiled(kind: str, settings: Any = None, spec: str | None = None) -> Adapter:
    """`adapter_for`, kept per (kind, settings, spec): compiling takes milliseconds, and a changed spec is a new key."""
    return _compiled(kind, json.dumps(settings or {}, sort_keys=True, ensure_ascii=False), spec)


def check_registration(
    kind: str, spec: str | None, settings: dict[str, Any], sample: bytes | None, content_type: str | None
) -> list[dict[str, Any]]:
    """The registry's `hub.registry.SpecCheck`: a custom spec loaded (every problem at its line), a built-in
    kind known, settings merged, a sample tried against every path. Returns the warnings; raises `SpecRejected`."""
    from connectors.spec_loader import SpecInvalid, check_against_sample, parse_spec
    from hub.errors import problem
    from hub.registry import CUSTOM_KIND, SpecRejected

    def rejected(problems: list[Any]) -> SpecRejected:
        return SpecRejected([{**p.as_dict(), "severity": p.severity} for p in problems])

    if kind == CUSTOM_KIND:
        if not spec:
            raise SpecRejected([problem("FIELD_REQUIRED", "spec").as_dict()])
        try:
            loaded = parse_spec(spec)
        except SpecInvalid as exc:
            raise rejected(exc.problems) from None
        target = loaded.spec
    else:
        if kind not in builtin_kinds():
            raise SpecRejected([problem("KIND_UNKNOWN", "kind", f"{kind[:40]} (known: {', '.join(builtin_kinds())})")
                                .as_dict()])  # fmt: skip
        loaded, target = None, builtin_spec(kind)
    if settings:
        try:
            target = target.with_settings(settings)
        except ValidationError as exc:
            raise SpecRejected([problem("SPEC_INVALID", "settings", str(exc.errors()[0]["msg"])).as_dict()]) from None
    if sample is None:
        return []
    found = check_against_sample(loaded if loaded is not None and not settings else target, sample, content_type)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise rejected(found)
    return [{**p.as_dict(), "severity": p.severity} for p in found]
