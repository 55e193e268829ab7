"""Sign-in exists in every region: the template translated by aws-sam-translator (as SAM does in the region)
lints clean with cfn-lint for a global region and both AWS China regions (no Cognito user pools there, so the
pool is a condition of the template), and every ARN of the sign-in resources names its partition."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from infra.localcloud.cognito import condition_holds
from infra.localcloud.translate import load_template, sam_to_cloudformation
from tests.conftest import deploy_script

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
SAM = load_template(TEMPLATE)
REGIONS = ["us-east-1", "cn-north-1", "cn-northwest-1"]
# deploy/lint.py lints each region's translation and the source once per process, for test_lint.py and here
lint_script = deploy_script("lint")
COGNITO = {"UserPool", "UserPoolClient", "DepartmentGroup", "ManagementGroup", "AuditorGroup", "OperatorGroup"}
# What sign-in adds to the translated template: the authorizer, its role and the permission API Gateway
# invokes it with, the API that declares it, and Cognito where it exists.
SIGN_IN = {"AuthorizerFunction", "AuthorizerFunctionRole", "HubApiPeopleAuthorizerAuthorizerPermission",
           "HubApi", *COGNITO}  # fmt: skip


def translated(region: str) -> dict[str, Any]:
    sam = copy.deepcopy(SAM)
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":  # as `sam package` leaves them
            resource["Properties"]["CodeUri"] = f"s3://hcp-hub-artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://hcp-hub-artifacts/{logical_id}.zip"
    return sam_to_cloudformation(sam, {}, region)


@pytest.fixture(scope="module", params=REGIONS)
def region_and_cfn(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[Any]]:
    """A region's translation (the same as translated(region): the code in S3) and cfn-lint's matches on it for
    that region: `lint(json.dumps(cfn), config=ManualArgs(regions=[region]))`, computed once per process."""
    cfn, matches, _ = lint_script.translated_matches(request.param)
    return cfn, matches


def _resource_of(match: Any) -> str | None:
    path = list(getattr(match, "path", None) or [])
    return str(path[1]) if len(path) > 1 and path[0] == "Resources" else None


def test_the_translated_sign_in_resources_lint_clean_in_each_region(region_and_cfn: tuple[Any, Any]) -> None:
    cfn, matches = region_and_cfn

    on_sign_in = [f"{m.rule.id} {_resource_of(m)}: {m.message}" for m in matches if _resource_of(m) in SIGN_IN
                  or _resource_of(m) is None]  # fmt: skip
    assert on_sign_in == []
    assert set(cfn["Resources"]) >= SIGN_IN - COGNITO


def test_the_sam_source_lints_clean_for_the_china_regions_too() -> None:
    # cfn-lint on the source for each region (errors, warnings and informational checks), once per process
    findings = {region: lint_script.lint_source(region) for region in REGIONS}

    assert findings == {region: [] for region in REGIONS}


def test_without_the_condition_cfn_lint_refuses_cognito_in_china_negative_control() -> None:
    pool = {k: v for k, v in SAM["Resources"]["UserPool"].items() if k != "Condition"}
    unconditional = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"UserPool": pool}}

    matches = lint(json.dumps(unconditional), config=ManualArgs(regions=["cn-north-1"]))

    assert {m.rule.id for m in matches} >= {"E3006"}  # "Resource type does not exist in 'cn-north-1'"


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1"])
def test_in_china_the_pool_is_not_created_and_every_sign_in_arn_names_the_aws_cn_partition(region: str) -> None:
    cfn = translated(region)
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws-cn"}

    assert all(cfn["Resources"][name]["Condition"] == "CreatesUserPool" for name in COGNITO)
    assert condition_holds(cfn, "CreatesUserPool", {"CreateUserPool": "true"}, pseudo) is False
    sign_in = json.dumps({k: cfn["Resources"][k] for k in SIGN_IN - COGNITO})
    assert "arn:aws:" not in sign_in
    assert "arn:aws-cn:execute-api:" in sign_in and "arn:aws-cn:iam::aws:policy/" in sign_in
