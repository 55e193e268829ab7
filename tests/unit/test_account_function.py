"""GET /v1/me in-process, with the person in requestContext.authorizer as API Gateway delivers the hub's Lambda
authorizer's context; the `principal_of`/`denied` helpers other functions use; how the local cloud reads each
route's authorizer from the SAM template."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from functions import account
from hub.access import AccessDenied
from infra.localcloud.api import routes_from_sam
from infra.localcloud.translate import load_template
from tests.lambda_context import LambdaContext

MARKET = "11360704MB1C000102"


def invocation() -> LambdaContext:
    return LambdaContext("hcp-hub-AccountFunction", 256)


def me_event(person: dict[str, str] | None) -> dict[str, Any]:
    """A REST proxy event for GET /v1/me; API Gateway adds `authorizer` (principalId and the authorizer's
    context) only behind the authorizer."""
    context: dict[str, Any] = {"resourcePath": "/v1/me", "httpMethod": "GET", "path": "/prod/v1/me", "stage": "prod",
                               "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "10.0.0.8"}}  # fmt: skip
    if person is not None:
        context["authorizer"] = person
    return {"resource": "/v1/me", "path": "/v1/me", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
            "queryStringParameters": None, "pathParameters": None, "requestContext": context, "body": None,
            "isBase64Encoded": False}  # fmt: skip


def call(claims: dict[str, str] | None) -> tuple[int, Any, dict[str, list[str]]]:
    reply = account.handler(me_event(claims), invocation())
    return reply["statusCode"], json.loads(reply["body"]), reply.get("multiValueHeaders") or {}


# what functions/authorizer.py hands API Gateway for a department (infra.oidc.Identity.context), plus the
# principalId and integrationLatency API Gateway adds
DEPARTMENT = {
    "principalId": "4a35aac1-8651-45a7-9c4a-76d2d0a25695",
    "integrationLatency": "41",
    "sub": "4a35aac1-8651-45a7-9c4a-76d2d0a25695",
    "username": "market-dept",
    "roles": "department",
    "agency_code": MARKET,
    "region_code": "",
    "issuer": "https://sso.jiangxi.example.gov.cn/realms/hcp",
}

# claims as API Gateway's REST Cognito user pool authorizer renders them (a stack that keeps one)
DEPARTMENT_CLAIMS = {
    "sub": "4a35aac1-8651-45a7-9c4a-76d2d0a25695",
    "aud": "d47b936482fc44a99e78540b04",
    "token_use": "id",
    "cognito:username": "market-dept",
    "cognito:groups": "department",
    "custom:agency_code": MARKET,
    "auth_time": "1795840980",
    "exp": "Sat Nov 28 05:44:54 UTC 2026",
    "iat": "Sat Nov 28 04:44:54 UTC 2026",
}


@pytest.mark.parametrize("person", [DEPARTMENT, {"claims": DEPARTMENT_CLAIMS}], ids=["lambda-authorizer", "cognito"])
def test_v1_me_answers_the_role_and_scope_the_authorizer_verified(person: dict[str, Any]) -> None:
    status, me, _ = call(person)

    assert status == 200
    assert me == {
        "username": "market-dept",
        "subject": "4a35aac1-8651-45a7-9c4a-76d2d0a25695",
        "role": "department",
        "region_code": None,
        "agency_codes": [MARKET],
        "sees_everything": False,
        "sees_personal_data": False,
    }


def test_an_auditor_is_told_they_read_personal_data_R20() -> None:
    status, me, _ = call(DEPARTMENT | {"roles": "auditor", "agency_code": ""})

    assert (status, me["role"], me["sees_personal_data"], me["sees_everything"]) == (200, "auditor", True, True)


def test_without_claims_the_function_itself_refuses_401_should_a_route_forget_its_authorizer() -> None:
    status, body, headers = call(None)

    assert status == 401
    assert [(e["code"], e["path"]) for e in body["errors"]] == [("TOKEN_MISSING", "Authorization")]
    assert body["errors"][0]["message"].startswith("not signed in")
    assert body["errors"][0]["message_zh"].startswith("未登录")
    assert headers.get("WWW-Authenticate") == ["Bearer"]


def test_a_verified_token_of_an_unscoped_account_is_403_account_unscoped() -> None:
    status, body, _ = call(DEPARTMENT | {"agency_code": ""})

    assert status == 403
    assert [e["code"] for e in body["errors"]] == ["ACCOUNT_UNSCOPED"]


def test_denied_gives_the_error_shape_with_the_refusals_status() -> None:
    reply = account.denied(AccessDenied("FORBIDDEN", "read this rating", detail_zh="查看该评价"))

    assert reply.status_code == 403
    assert json.loads(str(reply.body))["errors"] == [
        {"code": "FORBIDDEN", "path": "", "rule": "R20", "message": "not yours to read this rating",
         "message_zh": "无权访问或操作（查看该评价）"}
    ]  # fmt: skip
    # an English detail without its Chinese stays out of message_zh (issue 11, item 6)
    reply = account.denied(AccessDenied("FORBIDDEN", "read this rating"))
    assert json.loads(str(reply.body))["errors"][0]["message_zh"] == "无权访问或操作"


def test_an_unknown_route_of_the_account_function_is_404_route_unknown() -> None:
    event = me_event(DEPARTMENT) | {"path": "/v1/you", "resource": "/v1/you"}

    reply = account.handler(event, invocation())

    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["errors"][0]["code"] == "ROUTE_UNKNOWN"


# --- the local cloud's reading of authorizers -------------------------------------------------------------


def test_routes_carry_the_authorizer_their_event_names_and_signed_routes_none() -> None:
    sam = load_template("template.yaml")
    routes = {(r.method, r.resource): (r.authorizer, r.authorizer_function) for r in routes_from_sam(sam, {})}

    assert routes[("GET", "/v1/me")] == ("PeopleAuthorizer", "AuthorizerFunction")
    assert routes[("POST", "/v1/connectors/{connector_id}/ratings")] == (None, None)
    assert routes[("POST", "/v1/ratings")] == (None, None)


@pytest.mark.parametrize(
    ("event_auth", "api_auth", "expected"),
    [
        ({}, {"DefaultAuthorizer": "People", "Authorizers": {"People": {"FunctionArn": {"Fn::GetAtt": ["F", "Arn"]}}}},
         ("People", "F")),
        ({"Authorizer": "NONE"}, {"DefaultAuthorizer": "People", "Authorizers": {}}, (None, None)),
        ({"Authorizer": "AWS_IAM"}, {}, ("AWS_IAM", None)),  # not played locally: refused, never open
    ],
)  # fmt: skip
def test_a_default_authorizer_applies_unless_the_event_says_none(
    event_auth: dict[str, Any], api_auth: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    sam = {"Resources": {
        "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod", "Auth": api_auth}},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"E": {"Type": "Api", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Path": "/x", "Method": "get", "Auth": event_auth}}}}},
    }}  # fmt: skip

    (route,) = routes_from_sam(sam, {})

    assert (route.authorizer, route.authorizer_function) == expected
