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


WORK_ORDER_FUNCTION_LINES = 150  # one screen (issue 12): parse the event, call the desk, shape the reply


def test_the_work_order_function_fits_on_one_screen_and_leaves_the_use_case_to_the_desk() -> None:
    module = ROOT / "functions/workorders.py"
    assert len(module.read_text("utf-8").splitlines()) <= WORK_ORDER_FUNCTION_LINES
    assert not imports_of(module) & {"boto3", "botocore", "pydantic"}  # no command parsed or validated here
    text = module.read_text("utf-8")
    assert "WorkOrderDesk" in text and ".handle(" not in text and ".save(" not in text


@pytest.mark.parametrize("module", sorted((ROOT / "hub/workorders").glob("*.py")), ids=lambda p: p.name)
def test_the_work_order_rules_sit_in_small_modules_that_import_nothing_outward(module: Path) -> None:
    """A reader who opens hub/workorders/ finds the regulation's work-order rules, one concern a module."""
    assert len(module.read_text("utf-8").splitlines()) <= 320
    assert not imports_of(module) & {"infra", "functions", "connectors", "cli", "boto3", "botocore"}


def test_no_module_imports_the_old_work_order_modules() -> None:
    """hub/workorder.py and hub/workorder_monitor.py became the package hub/workorders/, with no shim left."""
    assert not (ROOT / "hub/workorder.py").exists() and not (ROOT / "hub/workorder_monitor.py").exists()
    for folder in ("hub", "infra", "functions", "connectors", "cli", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module in ("hub.workorder", "hub.workorder_monitor"):
                    raise AssertionError(f"{path.relative_to(ROOT)} imports {node.module}")
