"""`hcp schema export`: regenerate `schemas/` from the models, the one source of truth."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# Contracts owned outside hub/: module -> attribute holding {file name: model}.
_EXTRA_SOURCES = (
    ("infra.province.payload", "PROVINCIAL_SCHEMAS"),
    ("infra.province.profile", "PROFILE_SCHEMAS"),
    ("hub.workorders", "WORK_ORDER_SCHEMAS"),
    ("hub.registry", "REGISTRY_SCHEMAS"),
)


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every published schema, by file name."""
    from connectors.spec import ConnectorSpec
    from hub.calendar import YearNotice
    from hub.schemas import HUB_MODELS, model_schema, tag_dictionary

    out: dict[str, dict[str, Any]] = {name: model_schema(model, mode) for name, (model, mode) in HUB_MODELS.items()}
    out["tags.json"] = tag_dictionary()
    out["connector-spec.json"] = model_schema(ConnectorSpec, "validation")
    out["calendar-notice.json"] = model_schema(YearNotice, "validation")
    for module_name, attribute in _EXTRA_SOURCES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        models: dict[str, type[BaseModel]] = getattr(module, attribute)
        for name, model in models.items():
            out[name] = model_schema(model, "serialization")
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def export(target: Path = SCHEMA_DIR) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(all_schemas().items()):
        path = target / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def _run(args: argparse.Namespace) -> int:
    for path in export(Path(args.dir)):
        print(path)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("schema", help="the published JSON Schemas")
    actions = parser.add_subparsers(dest="action", required=True)
    exp = actions.add_parser("export", help="rewrite schemas/ from the models")
    exp.add_argument("--dir", default=str(SCHEMA_DIR), help="where to write (default: the repo's schemas/)")
    exp.set_defaults(func=_run)
