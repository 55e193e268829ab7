"""The ratings query function in-process over moto (DynamoDB, KMS, Secrets Manager), with the claims in
requestContext.authorizer as API Gateway's Cognito authorizer delivers them (R20)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import botocore.session
import pytest
from moto import mock_aws

from functions import ratings_api
from infra import bootstrap
from infra.clock import LocalClock
from infra.rating_store import DynamoRatingStore
from tests.integration.test_personal_data import create_audit_table
from tests.integration.test_stores_contract import NOW, create_aws_resources, fake_credentials, make_rating
from tests.lambda_context import LambdaContext

SESSION = botocore.session.get_session()
MARKET, POLICE = "11360704MB1C000102", "11360704MB1C000405"
PHONE = "13907970001"
CLAIMS = {
    "operator": {"cognito:groups": "operator"},
    "market-dept": {"cognito:groups": "department", "custom:agency_code": MARKET},
    "auditor": {"cognito:groups": "auditor"},
}


def invocation() -> LambdaContext:
    return LambdaContext("hcp-hub-RatingsQueryFunction", 512)


def event(method: str, path: str, resource: str, *, user: str | None, query: dict[str, str] | None = None,
          body: bytes = b"", path_parameters: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    context: dict[str, Any] = {
        "resourcePath": resource,
        "httpMethod": method,
        "path": f"/prod{path}",
        "stage": "prod",
        "requestId": str(uuid.uuid4()),
        "identity": {"sourceIp": "10.0.0.8"},
    }
    if user is not None:
        context["authorizer"] = {"claims": {"sub": f"sub-{user}", "cognito:username": user, **CLAIMS[user]}}
    return {"resource": resource, "path": path, "httpMethod": method, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {}, "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_parameters, "requestContext": context,
            "body": base64.b64encode(body).decode() if body else None, "isBase64Encoded": bool(body)}  # fmt: skip


@dataclass
class Api:
    aws: dict[str, Any]
    store: DynamoRatingStore
    handler: Any

    def call(self, method: str, path: str, *, user: str | None, **kwargs: Any) -> tuple[int, Any]:
        resource = "/v1/ratings/{rating_id}" if kwargs.get("path_parameters") else path
        reply = self.handler(event(method, path, resource, user=user, **kwargs), invocation())
        return reply["statusCode"], json.loads(reply["body"])

    def audit_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.aws["dynamodb"].scan(TableName="audit")["Items"]
        return items


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    fake_credentials(monkeypatch)
    clock = LocalClock(NOW)  # the services' own: no process-wide clock is installed
    with mock_aws():
        aws = create_aws_resources()
        create_audit_table(aws["dynamodb"])
        env = {
            "RATINGS_TABLE": aws["RatingsTable"],
            "AUDIT_TABLE": "audit",
            "DATA_KEY_ID": aws["DATA_KEY_ID"],
            "LOOKUP_KEY_SECRET_ARN": aws["LOOKUP_KEY_SECRET_ARN"],
            "PERSONAL_DATA_ALGORITHM": "SM4-GCM",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        handler = ratings_api.make_handler(lambda: bootstrap.rating_reads_from_env(session=SESSION, clock=clock))
        clients = bootstrap.aws_clients(SESSION, services=bootstrap.SEALING_CLIENTS)
        store = DynamoRatingStore(aws["dynamodb"], aws["RatingsTable"], **bootstrap.sealed_stores(clients))
        store.put_new(make_rating("S-1"), "raw/1")
        store.put_new(
            make_rating("S-2", case_no="GX-2", target={"agency_code": POLICE, "region_code": "360704000000"}),
            "raw/2",
        )
        yield Api(aws, store, handler)


def test_a_request_without_verified_claims_is_401_R20(api: Api) -> None:
    status, body = api.call("GET", "/v1/ratings", user=None)
    assert status == 401 and body["errors"][0]["code"] == "TOKEN_MISSING"


def test_a_department_lists_its_own_agencys_ratings_masked_R20(api: Api) -> None:
    status, body = api.call("GET", "/v1/ratings", user="market-dept")
    assert status == 200 and body["masked"] is True
    assert [r["rating"]["target"]["agency_code"] for r in body["ratings"]] == [MARKET]
    assert body["ratings"][0]["rating"]["rater"]["phone"] == "139****0001"
    assert PHONE not in json.dumps(body)
    assert api.audit_items() == []


def test_unmasked_by_the_operator_is_403_personal_data_forbidden_R20(api: Api) -> None:
    status, body = api.call("GET", "/v1/ratings", user="operator", query={"unmasked": "true"})
    assert status == 403 and body["errors"][0]["code"] == "PERSONAL_DATA_FORBIDDEN"
    assert body["errors"][0]["rule"] == "R20"


def test_the_auditor_reads_in_clear_after_the_audit_record_is_written_R20(api: Api) -> None:
    status, body = api.call("GET", "/v1/ratings", user="auditor")
    assert status == 200 and body["masked"] is False
    assert {r["rating"]["rater"]["phone"] for r in body["ratings"]} == {PHONE}
    (item,) = api.audit_items()
    assert (item["subject"]["S"], item["role"]["S"], item["action"]["S"]) == ("sub-auditor", "auditor", "list")
    assert len(item["rating_ids"]["L"]) == 2 and PHONE not in json.dumps(item, ensure_ascii=False)


def test_no_audit_record_no_data_R20(api: Api) -> None:
    api.aws["dynamodb"].delete_table(TableName="audit")
    status, body = api.call("GET", "/v1/ratings", user="auditor")
    assert status == 503 and [e["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"] and "ratings" not in body
    assert PHONE not in json.dumps(body)


def test_one_rating_by_id_and_another_agencys_reads_as_not_found_R20(api: Api) -> None:
    mine, theirs = make_rating("S-1").rating_id, make_rating("S-2", case_no="GX-2").rating_id
    status, body = api.call("GET", f"/v1/ratings/{mine}", user="market-dept", path_parameters={"rating_id": mine})
    assert status == 200 and body["rating"]["rating_id"] == mine and body["masked"] is True
    status, body = api.call("GET", f"/v1/ratings/{theirs}", user="market-dept", path_parameters={"rating_id": theirs})
    assert status == 404 and body["errors"][0]["code"] == "RATING_NOT_FOUND"


def test_the_auditors_lookup_by_phone_goes_through_the_hash_index_and_is_audited_R20(api: Api) -> None:
    status, body = api.call("POST", "/v1/ratings/lookup", user="auditor", body=json.dumps({"phone": PHONE}).encode())
    assert status == 200 and len(body["ratings"]) == 2
    assert api.audit_items()[0]["action"]["S"] == "lookup:phone"
    status, body = api.call("POST", "/v1/ratings/lookup", user="operator", body=b'{"phone": "13907970001"}')
    assert status == 403 and body["errors"][0]["code"] == "PERSONAL_DATA_FORBIDDEN"
    status, body = api.call("POST", "/v1/ratings/lookup", user="auditor", body=b"[1]")
    assert status == 400 and body["errors"][0]["code"] == "BODY_MALFORMED"


@pytest.mark.parametrize("query", [{"limit": "1000"}, {"from": "soon"}, {"cursor": quote("{}")}, {"grade": "5"}])
def test_bad_queries_are_400_never_500(api: Api, query: dict[str, str]) -> None:
    status, body = api.call("GET", "/v1/ratings", user="operator", query=query)
    assert status == 400 and body["errors"][0]["code"]


def test_pages_of_one_follow_the_cursor_R20(api: Api) -> None:
    status, first = api.call("GET", "/v1/ratings", user="operator", query={"limit": "1"})
    assert status == 200 and len(first["ratings"]) == 1 and first["cursor"]
    status, second = api.call("GET", "/v1/ratings", user="operator", query={"limit": "1", "cursor": first["cursor"]})
    assert status == 200 and len(second["ratings"]) == 1
    assert first["ratings"][0]["rating"]["rating_id"] != second["ratings"][0]["rating"]["rating_id"]
