"""template.yaml passes cfn-lint where AWS checks it: the SAM source and the translated template (what
CloudFormation really creates), for us-east-1 and both China regions (deploy/lint.py, `make lint`)."""

from __future__ import annotations

import pytest

from tests.conftest import deploy_script

lint = deploy_script("lint")  # deploy/lint.py: it lints each region and part once per process (test_signin_regions too)

CHINA = ("cn-north-1", "cn-northwest-1")
lint_source = lint.lint_source
lint_translated = lint.lint_translated


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
