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
# Cognito user pools do not exist in the AWS China regions. The "signin" work of issue 10 (item 4: an OIDC
# authorizer, Cognito a condition of the template) makes these pass; strict, so they then XPASS and fail
# until this mark is removed.
COGNITO_IN_CHINA = pytest.mark.xfail(
    strict=True, reason="issue 10 item 4 (signin): Cognito is not yet a condition of the template; "
    "the China regions fail on the Cognito resources only (test_china_fails_on_nothing_but_cognito)")


# Each lint takes seconds: once per region and part for the whole module.
lint_source = functools.cache(lint.lint_source)
lint_translated = functools.cache(lambda region: lint.lint_translated(region))


def _regions() -> list:
    return [pytest.param(r, marks=COGNITO_IN_CHINA) if r in CHINA else r for r in lint.REGIONS]


@pytest.mark.parametrize("region", _regions())
def test_the_sam_source_lints_clean_including_informational_checks(region: str) -> None:
    assert lint_source(region) == []


@pytest.mark.parametrize("region", _regions())
def test_the_translated_template_lints_clean(region: str) -> None:
    assert lint_translated(region) == []


@pytest.mark.parametrize("region", CHINA)
def test_china_fails_on_nothing_but_cognito(region: str) -> None:
    """Until the signin work lands: whatever else breaks in China is caught now, not hidden by the xfail."""
    found = lint_source(region) + lint_translated(region)

    assert [m for m in found if "AWS::Cognito::" not in m] == []


def test_a_description_over_lambdas_limit_is_caught_on_the_translated_template_only() -> None:
    """The negative control: issue 10's 294-character Description, which cfn-lint on the SAM source misses."""
    sam = lint.load_template(lint.TEMPLATE)
    sam["Resources"]["SweepFunction"]["Properties"]["Description"] = "x" * 294

    found = lint.lint_translated("us-east-1", sam)

    assert [m for m in found if "E3033" in m and "longer than 256" in m], found
    assert lint_translated("us-east-1") == []  # the template as it is
