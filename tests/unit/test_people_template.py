"""template.yaml's sign-in: the Lambda authorizer on HubApi for any OIDC issuer, its parameters, the Cognito user
pool (client, four role groups) created only where asked and available, and API Gateway's own 401/503 answers in
the hub's error shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.access import AGENCY_CLAIM, REGION_CLAIM, PrincipalRole
from hub.errors import CATALOG
from infra.localcloud.api import gateway_response
from infra.localcloud.cognito import condition_holds
from infra.localcloud.translate import load_template
from infra.settings import SignInSettings

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


PEOPLES_ROUTES = {
    (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth")
    for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::Function"
    for e in (r["Properties"].get("Events") or {}).values() if e["Type"] == "Api"
}  # fmt: skip


def test_people_sign_in_through_the_lambda_authorizer_which_is_no_default_so_signed_rating_routes_stay_open() -> None:
    auth = RESOURCES["HubApi"]["Properties"]["Auth"]
    (name,) = auth["Authorizers"]

    assert auth["Authorizers"][name] == {
        "FunctionArn": {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
        "FunctionPayloadType": "TOKEN",
        "Identity": {"Header": "Authorization", "ReauthorizeEvery": 300},  # the answer per token, cached 5 min
    }
    assert "DefaultAuthorizer" not in auth
    assert PEOPLES_ROUTES[("get", "/v1/me")] == {"Authorizer": name}
    assert PEOPLES_ROUTES[("post", "/v1/connectors/{connector_id}/ratings")] is None  # HMAC-signed by connectors
    assert {a["Authorizer"] for a in PEOPLES_ROUTES.values() if a} == {name}


def test_the_authorizer_function_gets_every_sign_in_setting_and_no_policies_of_its_own() -> None:
    function = RESOURCES["AuthorizerFunction"]["Properties"]
    variables = function["Environment"]["Variables"]

    assert function["Handler"] == "functions.authorizer.handler"
    assert set(SignInSettings.variables()) - {"OIDC_LEEWAY_SECONDS", "OIDC_JWKS_TIMEOUT_SECONDS"} <= set(variables)
    assert "Policies" not in function  # it calls no AWS API: its keys come from the issuer over HTTPS
    timeout = SignInSettings(issuer="x", audiences=("y",)).jwks_timeout_seconds
    assert function["Timeout"] > 2 * timeout  # discovery and keys from a slow issuer give up inside it


def test_the_sign_in_parameters_come_last_and_default_to_cognitos_claim_names() -> None:
    names = list(SAM["Parameters"])
    sign_in = ["CreateUserPool", "OidcIssuer", "OidcAudience", "OidcJwksUrl", "OidcRolesClaim", "OidcAgencyClaim",
               "OidcRegionClaim", "OidcUsernameClaim"]  # fmt: skip

    assert names[-len(sign_in):] == sign_in
    defaults = {n: SAM["Parameters"][n]["Default"] for n in sign_in}
    assert defaults["CreateUserPool"] == "true"
    assert (defaults["OidcRolesClaim"], defaults["OidcAgencyClaim"], defaults["OidcRegionClaim"]) == (
        "cognito:groups", AGENCY_CLAIM, REGION_CLAIM)  # fmt: skip


@pytest.mark.parametrize("pattern_of", ["OidcIssuer", "OidcJwksUrl"])
@pytest.mark.parametrize(("url", "allowed"), [
    ("", True), ("https://sso.jiangxi.gov.cn/realms/hcp", True), ("http://127.0.0.1:8080/realms/hcp", True),
    ("http://sso.jiangxi.gov.cn/realms/hcp", False), ("ftp://x", False),
])  # fmt: skip
def test_the_issuer_and_its_keys_are_https_plain_http_only_on_loopback(pattern_of: str, url: str,
                                                                       allowed: bool) -> None:  # fmt: skip
    assert bool(re.fullmatch(SAM["Parameters"][pattern_of]["AllowedPattern"], url)) is allowed


def test_every_cognito_resource_and_output_is_conditional_on_creating_the_user_pool() -> None:
    cognito = {k for k, v in RESOURCES.items() if v["Type"].startswith("AWS::Cognito::")}

    assert cognito == {"UserPool", "UserPoolClient", "DepartmentGroup", "ManagementGroup", "AuditorGroup",
                       "OperatorGroup"}  # fmt: skip
    assert {RESOURCES[k].get("Condition") for k in cognito} == {"CreatesUserPool"}
    assert {SAM["Outputs"][k].get("Condition") for k in ("UserPoolId", "UserPoolClientId")} == {"CreatesUserPool"}


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1"}


@pytest.mark.parametrize(("region", "create", "created"), [
    ("us-east-1", "true", True), ("us-east-1", "false", False), ("eu-west-1", "true", True),
    ("cn-north-1", "true", False), ("cn-northwest-1", "true", False), ("cn-north-1", "false", False),
])  # fmt: skip
def test_cognito_is_created_only_where_asked_and_available(region: str, create: str, created: bool) -> None:
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws-cn" if region.startswith("cn-") else "aws"}

    holds = condition_holds(SAM, "CreatesUserPool", {"CreateUserPool": create}, pseudo)

    assert holds is created
    assert condition_holds(SAM, "IsChinaPartition", {}, pseudo) is region.startswith("cn-")


def _issuer_for(create: str, issuer: str, region: str = "us-east-1") -> Any:
    """OIDC_ISSUER as CloudFormation resolves it (the pool's Fn::Sub left as written)."""
    variable = RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]["OIDC_ISSUER"]
    params = {"CreateUserPool": create, "OidcIssuer": issuer}
    pseudo = {"AWS::Region": region, "AWS::Partition": "aws-cn" if region.startswith("cn-") else "aws"}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict) and "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            return resolve(yes if condition_holds(SAM, name, params, pseudo) else no)
        if isinstance(node, dict) and "Ref" in node:
            return params[node["Ref"]]
        return node

    return resolve(variable)


def test_the_issuer_defaults_to_the_stacks_own_pool_and_a_named_issuer_wins() -> None:
    assert _issuer_for("true", "") == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"}
    assert _issuer_for("true", "https://sso.jiangxi.gov.cn/realms/hcp") == "https://sso.jiangxi.gov.cn/realms/hcp"
    assert _issuer_for("true", "", region="cn-north-1") == ""  # China without an issuer: the authorizer says so


def test_access_denied_renders_the_authorizers_refusal_as_a_401_in_the_hub_error_shape() -> None:
    props = RESOURCES["HubApi"]["Properties"]
    context = {"authorizer.code": "TOKEN_EXPIRED", "authorizer.message": "the token has expired; sign in again",
               "authorizer.message_zh": "令牌已过期，请重新登录"}  # fmt: skip

    reply = gateway_response(props, "ACCESS_DENIED", context)

    assert reply.status == 401
    assert ("WWW-Authenticate", "Bearer") in reply.headers
    assert json.loads(reply.body) == {"errors": [{"code": "TOKEN_EXPIRED", "path": "Authorization",
                                                  "message": "the token has expired; sign in again",
                                                  "message_zh": "令牌已过期，请重新登录"}]}  # fmt: skip


@pytest.mark.parametrize(
    ("response", "status", "code"),
    [("UNAUTHORIZED", 401, "TOKEN_MISSING"), ("AUTHORIZER_FAILURE", 503, "SIGN_IN_UNAVAILABLE"),
     ("AUTHORIZER_CONFIGURATION_ERROR", 503, "SIGN_IN_UNAVAILABLE"),
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
