"""Imports point inward: hub/ reads as the regulation in code, without meeting boto3 or the edges."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HUB_MAY_IMPORT = {"hub", "pydantic", "pydantic_core", "chinese_calendar", "typing_extensions"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", sorted((ROOT / "hub").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_hub_imports_only_the_standard_library_pydantic_and_itself(module: Path) -> None:
    foreign = {name for name in imports_of(module) if name not in sys.stdlib_module_names} - HUB_MAY_IMPORT
    assert not foreign, f"{module.relative_to(ROOT)} imports {sorted(foreign)}"


@pytest.mark.parametrize("module", sorted((ROOT / "connectors").rglob("*.py")), ids=lambda p: p.name)
def test_connectors_do_not_reach_into_infra_or_functions(module: Path) -> None:
    assert not imports_of(module) & {"infra", "functions", "boto3", "botocore"}
