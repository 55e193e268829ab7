"""template.yaml's identity resources: the user pool people sign in to, its client and the four role groups,
and the Cognito authorizer on HubApi whose own 401/403 answers keep the hub's error shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.access import AGENCY_CLAIM, REGION_CLAIM, PrincipalRole
from hub.errors import CATALOG
from infra.localcloud.translate import load_template

SAM = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, Any] = SAM["Resources"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == kind}


def test_only_administrators_create_accounts_and_the_scope_attributes_are_mutable_strings() -> None:
    (pool,) = of_type("AWS::Cognito::UserPool").values()

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    custom = {a["Name"]: a for a in pool["Schema"]}
    for claim in (AGENCY_CLAIM, REGION_CLAIM):
        attribute = custom[claim.removeprefix("custom:")]
        assert (attribute["AttributeDataType"], attribute["Mutable"]) == ("String", True)


def test_the_client_has_no_secret_reads_the_scope_and_never_lets_a_person_write_it() -> None:
    (client,) = of_type("AWS::Cognito::UserPoolClient").values()

    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    }
    assert {AGENCY_CLAIM, REGION_CLAIM} <= set(client["ReadAttributes"])
    assert not {AGENCY_CLAIM, REGION_CLAIM} & set(client["WriteAttributes"])  # nobody widens their own scope


def test_there_is_one_group_per_role_ordered_narrowest_first() -> None:
    groups = {g["GroupName"]: g["Precedence"] for g in of_type("AWS::Cognito::UserPoolGroup").values()}

    assert set(groups) == {role.value for role in PrincipalRole}
    assert sorted(groups, key=groups.__getitem__) == ["department", "management", "auditor", "operator"]


def test_the_cognito_authorizer_is_no_default_so_signed_rating_routes_stay_open_to_connectors() -> None:
    auth = RESOURCES["HubApi"]["Properties"]["Auth"]

    assert auth["Authorizers"]["CognitoAuthorizer"]["UserPoolArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert "DefaultAuthorizer" not in auth
    me = RESOURCES["AccountFunction"]["Properties"]["Events"]["Me"]["Properties"]
    assert (me["Path"], me["Method"], me["Auth"]) == ("/v1/me", "get", {"Authorizer": "CognitoAuthorizer"})


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [("UNAUTHORIZED", 401, "TOKEN_INVALID"), ("ACCESS_DENIED", 403, "FORBIDDEN"),
     ("MISSING_AUTHENTICATION_TOKEN", 404, "ROUTE_UNKNOWN")],
)  # fmt: skip
def test_api_gateways_own_refusals_have_the_hub_error_shape(response: str, status: int, code: str) -> None:
    answer = RESOURCES["HubApi"]["Properties"]["GatewayResponses"][response]
    # what API Gateway substitutes ($context.error.messageString comes quoted)
    body = (
        answer["ResponseTemplates"]["application/json"]
        .replace("$context.error.messageString", '"The incoming token has expired"')
        .replace("$context.httpMethod", "GET")
        .replace("$context.path", "/v1/nowhere")
    )

    (error,) = json.loads(body)["errors"]
    assert answer["StatusCode"] == status
    assert error["code"] == code and code in CATALOG
    assert set(error) == {"code", "path", "message", "message_zh"}
    assert answer["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'"


def test_the_pool_and_client_ids_are_outputs() -> None:
    assert SAM["Outputs"]["UserPoolId"]["Value"] == {"Ref": "UserPool"}
    assert SAM["Outputs"]["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}
