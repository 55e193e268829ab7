"""template.yaml passes cfn-lint where AWS checks it: the SAM source and the translated template (what
CloudFormation really creates), for us-east-1 and both China regions (deploy/lint.py, `make lint`)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("deploy_lint", ROOT / "deploy" / "lint.py")
assert _spec and _spec.loader
lint = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lint)

CHINA = ("cn-north-1", "cn-northwest-1")


# Each lint takes seconds: once per region and part for the whole module.
lint_source = functools.cache(lint.lint_source)
lint_translated = functools.cache(lambda region: lint.lint_translated(region))


@pytest.mark.parametrize("region", lint.REGIONS)
def test_the_sam_source_lints_clean_including_informational_checks(region: str) -> None:
    assert lint_source(region) == []


@pytest.mark.parametrize("region", lint.REGIONS)
def test_the_translated_template_lints_clean(region: str) -> None:
    assert lint_translated(region) == []


def test_a_description_over_lambdas_limit_is_caught_on_the_translated_template_only() -> None:
    """The negative control: issue 10's 294-character Description, which cfn-lint on the SAM source misses."""
    sam = lint.load_template(lint.TEMPLATE)
    sam["Resources"]["SweepFunction"]["Properties"]["Description"] = "x" * 294

    found = lint.lint_translated("us-east-1", sam)

    assert [m for m in found if "E3033" in m and "longer than 256" in m], found
    assert lint_translated("us-east-1") == []  # the template as it is
