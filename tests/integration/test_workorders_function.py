"""The work-order function in one process with moto behind: API Gateway proxy events carrying the claims the
Cognito authorizer verified (as API Gateway delivers them), roles mapped to actors, refusals by code.
Rules: R10 (one order per bad rating, on the forward path), R11/R12 (deadlines), R13 (visit before close),
R15 (extensions), R17 (appeal window), R18 (a county manages its townships' orders), R20 (no personal data in logs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.edge.telemetry import Handler
from functions.workorders import make_handler
from hub.calendar import WorkingDayCalendar
from hub.forwarding import ForwardService, ProvinceUnreachable
from hub.rating import Rating
from hub.workorders import open_work_order
from infra import bootstrap
from infra.clock import LocalClock
from infra.memory import InMemoryForwardQueue, InMemoryProvince, InMemoryRatingStore
from infra.workorder_store import DynamoWorkOrderStore
from tests.integration.test_ingest_function import api_event, invocation
from tests.integration.test_stores_contract import REGION, fake_credentials, template_resources
from tests.integration.test_workorder_store import COUNTY, COUNTY_AGENCY, TOWNSHIP, TOWNSHIP_AGENCY, bad_rating

CALENDAR = WorkingDayCalendar()
POLICE_AGENCY = "11360704MB1C000405"
OTHER_AGENCY = "11360702MB1C000105"
CLAIMS = {
    "market-dept": {"cognito:groups": "department", "custom:agency_code": COUNTY_AGENCY},
    "township-unit": {"cognito:groups": "department", "custom:agency_code": TOWNSHIP_AGENCY},
    "other-dept": {"cognito:groups": "department", "custom:agency_code": OTHER_AGENCY},
    "ganxian-management": {"cognito:groups": "management", "custom:region_code": COUNTY},
    "ganzhou-management": {"cognito:groups": "management", "custom:region_code": "360700000000"},
    "operator": {"cognito:groups": "operator"},
    "auditor": {"cognito:groups": "auditor"},
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@dataclass
class Api:
    store: DynamoWorkOrderStore
    clock: LocalClock
    handler: Handler

    def call(self, method: str, path: str, *, user: str | None, body: Any = None,
             query: dict[str, str] | None = None, raw: bytes | None = None,
             content_type: str | None = None) -> tuple[int, Any]:  # fmt: skip
        resource = "/v1/work-orders"
        params = None
        parts = path.removeprefix("/v1/work-orders").strip("/").split("/")
        if parts[0] == "openapi.json":
            resource = path
        elif parts[0]:
            resource += "/{order_id}" + ("/actions" if len(parts) > 1 else "")
            params = {"order_id": parts[0]}
        data = raw if raw is not None else (json.dumps(body, ensure_ascii=False).encode() if body is not None else b"")
        headers = {"Authorization": "Bearer x"} if user else {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        event = api_event(method, path, resource, body=data, path_parameters=params, headers=headers or None)
        if user is not None:
            event["requestContext"]["authorizer"] = {"claims": {"sub": f"sub-{user}", "cognito:username": user,
                                                                **CLAIMS[user]}}  # fmt: skip
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
        reply = self.handler(event, invocation())
        return reply["statusCode"], json.loads(reply["body"])

    def act(self, order_id: str, user: str, **body: Any) -> tuple[int, Any]:
        return self.call("POST", f"/v1/work-orders/{order_id}/actions", user=user, body=body)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    fake_credentials(monkeypatch)
    clock = LocalClock(at("2026-09-30T10:00:00"))
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        resources = template_resources()
        for logical, name in (("WorkOrdersTable", "work-orders"), ("CalendarTable", "calendar")):
            props = resources[logical]["Properties"]
            kwargs = {
                k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props
            }
            client.create_table(TableName=name, BillingMode=props["BillingMode"], **kwargs)
        monkeypatch.setenv("WORK_ORDERS_TABLE", "work-orders")
        monkeypatch.setenv("CALENDAR_TABLE", "calendar")
        monkeypatch.setenv("CALENDAR_CACHE_SECONDS", "0")
        store = DynamoWorkOrderStore(client, "work-orders")
        store.put_new(open_work_order(bad_rating("county", real_name=True), at("2026-09-30T10:00:00"), CALENDAR))
        store.put_new(open_work_order(bad_rating("township", agency=TOWNSHIP_AGENCY, region=TOWNSHIP),
                                      at("2026-09-30T10:00:00"), CALENDAR))  # fmt: skip
        yield Api(store, clock, make_handler(build=lambda: bootstrap.work_orders_from_env(clock=clock)))


# --------------------------------------------------------------------------------------------------


def test_without_claims_the_routes_answer_401(api: Api) -> None:
    status, answer = api.call("GET", "/v1/work-orders", user=None)
    assert status == 401 and answer["errors"][0]["code"] == "TOKEN_MISSING"


def test_each_role_lists_what_it_may_see_R18(api: Api) -> None:
    def listed(user: str) -> list[str]:
        status, answer = api.call("GET", "/v1/work-orders", user=user)
        assert status == 200, answer
        return sorted(item["id"] for item in answer["items"])

    assert listed("market-dept") == ["wo-county"]
    assert listed("township-unit") == ["wo-township"]
    assert listed("other-dept") == []
    assert listed("ganxian-management") == ["wo-county", "wo-township"]  # R18: the county manages the township's
    assert listed("ganzhou-management") == ["wo-county", "wo-township"]
    assert listed("operator") == listed("auditor") == ["wo-county", "wo-township"]


def test_lists_filter_by_status_overdue_and_bad_filters_are_422(api: Api) -> None:
    api.clock.set(at("2026-10-09T09:00:00"))  # past the reply limit of 2026-10-08 (R11: National Day in between)
    status, answer = api.call("GET", "/v1/work-orders", user="operator", query={"overdue": "true"})
    assert status == 200 and sorted(i["id"] for i in answer["items"]) == ["wo-county", "wo-township"]
    assert answer["items"][0]["overdue"][0] == "reply"
    status, answer = api.call("GET", "/v1/work-orders", user="operator", query={"status": "closed"})
    assert status == 200 and answer["items"] == []
    status, answer = api.call("GET", "/v1/work-orders", user="operator",
                              query={"status": "bogus", "region": "abc", "limit": "0"})  # fmt: skip
    assert status == 422
    assert sorted(e["path"] for e in answer["errors"]) == ["limit", "region", "status"]
    status, answer = api.call("GET", "/v1/work-orders", user="operator", query={"cursor": "zzz"})
    assert status == 400 and answer["errors"][0]["code"] == "CURSOR_INVALID"


def test_a_department_may_not_list_another_units_orders(api: Api) -> None:
    status, answer = api.call("GET", "/v1/work-orders", user="market-dept", query={"unit": TOWNSHIP_AGENCY})
    assert status == 403 and answer["errors"][0]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("user", "query"),
    [
        ("market-dept", {"region": "360702000000"}),  # a department, a region none of its agencies is in
        ("ganxian-management", {"unit": OTHER_AGENCY}),  # a county's management, an agency of another county
    ],
)
def test_a_list_filter_outside_the_scope_is_403_not_an_empty_list(api: Api, user: str, query: dict[str, str]) -> None:
    """Issue 11 item 5, as for ratings lists: an empty 200 reads as "no work orders there"."""
    status, answer = api.call("GET", "/v1/work-orders", user=user, query=query)
    assert (status, answer["errors"][0]["code"]) == (403, "FORBIDDEN")
    # the negative control: inside the scope, the same filters narrow
    status, answer = api.call("GET", "/v1/work-orders", user="ganxian-management", query={"unit": COUNTY_AGENCY})
    assert (status, [i["id"] for i in answer["items"]]) == (200, ["wo-county"])
    status, answer = api.call("GET", "/v1/work-orders", user="market-dept", query={"region": COUNTY})
    assert (status, [i["id"] for i in answer["items"]]) == (200, ["wo-county"])


def test_an_order_reads_whole_for_those_who_may_see_it_and_403_for_others(api: Api) -> None:
    status, order = api.call("GET", "/v1/work-orders/wo-township", user="ganxian-management")
    assert status == 200 and order["managing_department"]["region_code"] == COUNTY
    assert order["history"][0]["type"] == "WorkOrderDispatched"
    status, answer = api.call("GET", "/v1/work-orders/wo-township", user="other-dept")
    assert status == 403 and answer["errors"][0]["code"] == "FORBIDDEN"
    status, answer = api.call("GET", "/v1/work-orders/wo-nothing", user="operator")
    assert status == 404 and answer["errors"][0]["code"] == "WORK_ORDER_UNKNOWN"


def test_a_township_unit_acts_and_its_county_decides_R18_R15(api: Api) -> None:
    status, answer = api.act("wo-township", "township-unit", action="classify", kind="complex")
    assert status == 200 and answer["order"]["status"] == "complex" and answer["event"]["actor"]["role"] == "unit"
    status, answer = api.act("wo-township", "township-unit", action="request_extension", reason="需协调",
                             until="2026-11-30")  # fmt: skip
    assert status == 200
    status, answer = api.act("wo-township", "ganzhou-management", action="approve_extension")
    assert status == 403 and answer["errors"][0]["code"] == "NOT_YOUR_ORDER"  # the city sees, the county decides
    status, answer = api.act("wo-township", "ganxian-management", action="approve_extension")
    assert status == 200 and answer["order"]["deadlines"]["resolve"]["date"] == "2026-11-30"


def test_refusals_carry_their_codes(api: Api) -> None:
    status, answer = api.act("wo-county", "market-dept", action="approve_extension")
    assert status == 403 and answer["errors"][0]["code"] == "ACTION_NOT_FOR_ROLE"
    status, answer = api.act("wo-county", "auditor", action="classify", kind="simple")
    assert status == 403 and answer["errors"][0]["code"] == "FORBIDDEN"
    status, answer = api.act("wo-county", "other-dept", action="classify", kind="simple")
    assert status == 403 and answer["errors"][0]["code"] == "FORBIDDEN"
    api.clock.set(at("2026-10-12T10:00:00"))  # the appeal window closed at the end of 2026-10-09 (R17)
    status, answer = api.act("wo-county", "market-dept", action="file_appeal", grounds="mistaken", reason="误评")
    assert status == 409 and answer["errors"][0]["code"] == "APPEAL_WINDOW_CLOSED"
    assert answer["errors"][0]["rule"] == "R17" and answer["errors"][0]["message_zh"]


def test_closing_a_real_name_order_without_its_visit_is_refused_R13(api: Api) -> None:
    api.act("wo-county", "market-dept", action="classify", kind="simple")
    api.act("wo-county", "market-dept", action="send_reply", summary="已增开窗口")
    status, answer = api.act("wo-county", "ganxian-management", action="close")
    assert status == 409 and answer["errors"][0]["code"] == "FOLLOW_UP_REQUIRED"


def test_bad_bodies_are_4xx_with_field_paths(api: Api) -> None:
    status, answer = api.call("POST", "/v1/work-orders/wo-county/actions", user="market-dept", raw=b"{not json")
    assert status == 400 and answer["errors"][0]["code"] == "BODY_MALFORMED"
    status, answer = api.act("wo-county", "market-dept", action="request_extension", until="soon", extra=1)
    assert status == 422
    assert {(e["code"], e["path"]) for e in answer["errors"]} == {
        ("FIELD_REQUIRED", "reason"),
        ("FIELD_INVALID", "until"),
        ("FIELD_UNKNOWN", "extra"),
    }
    status, answer = api.act("wo-county", "market-dept", action="dance")
    assert status == 422 and answer["errors"][0]["path"] == "action"
    status, answer = api.act("wo-county", "market-dept", action="classify", kind="simple", expected_version="x")
    assert status == 422 and answer["errors"][0]["path"] == "expected_version"


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"null", None, 400, "BODY_MALFORMED"),
        (b'"x"', None, 400, "BODY_MALFORMED"),
        (b"[1, 2]", None, 400, "BODY_MALFORMED"),
        (b'{"action": "classify", "kind": "simple", "kind": "complex"}', None, 400, "BODY_MALFORMED"),
        (b'{"action": "classify", "kind": "simple"}', "text/plain", 415, "CONTENT_TYPE_UNSUPPORTED"),
    ],
)
def test_an_action_body_is_read_as_every_json_route_reads_one(
    api: Api, raw: bytes, content_type: str | None, status: int, code: str
) -> None:
    """Issue 11 items 2, 3, 7: one answer for "not what the route takes"; a kind given twice is not guessed."""
    got, answer = api.call("POST", "/v1/work-orders/wo-county/actions", user="market-dept", raw=raw,
                           content_type=content_type)  # fmt: skip
    assert (got, [e["code"] for e in answer["errors"]]) == (status, [code])
    assert api.store.get("wo-county").version == 1  # nothing acted


def test_a_text_with_the_raters_phone_is_refused_and_not_logged_R20(api: Api, caplog: Any) -> None:
    api.act("wo-county", "market-dept", action="classify", kind="simple")
    with caplog.at_level(logging.DEBUG):
        status, answer = api.act("wo-county", "market-dept", action="send_reply", summary="已电话 13912345678 答复")
    assert status == 422 and answer["errors"][0]["code"] == "PERSONAL_DATA_IN_TEXT"
    assert "13912345678" not in caplog.text


def test_a_stale_expected_version_is_a_version_conflict(api: Api) -> None:
    api.act("wo-county", "market-dept", action="classify", kind="simple")
    status, answer = api.act("wo-county", "market-dept", action="send_reply", summary="已答复", expected_version=1)
    assert status == 409 and answer["errors"][0]["code"] == "VERSION_CONFLICT"


# --------------------------------------------------------------------------------------------------
# Creation on the forward path (R10)


def test_a_bad_rating_opens_its_order_before_the_province_answers_and_once_R10(api: Api) -> None:
    ratings = InMemoryRatingStore()
    rating = bad_rating("fresh")
    ratings.put_new(rating, "raw/1")
    service = ForwardService(ratings, InMemoryProvince(down=True), InMemoryForwardQueue(), work_orders=api.store)
    for _ in range(3):  # the province is down: the message comes back, the order is opened once
        with pytest.raises(ProvinceUnreachable):
            service.forward(rating.rating_id, at("2026-09-30T10:00:00"))
    order = api.store.get("wo-fresh")
    assert order is not None and order.version == 1 and order.dispatched_at == at("2026-09-30T10:00:00")
    assert order.deadlines.reply.date.isoformat() == "2026-10-08"  # R11 over the National Day holiday
    assert [e.order_id for e in api.store.outbox() if e.order_id == "wo-fresh"] == ["wo-fresh"]


def test_a_good_rating_opens_no_order_R10(api: Api) -> None:
    ratings = InMemoryRatingStore()
    good = Rating.model_validate({**bad_rating("good").model_dump(mode="json"), "grade": "satisfied", "tags": []})
    ratings.put_new(good, "raw/2")
    ForwardService(ratings, InMemoryProvince(down=True), InMemoryForwardQueue(), work_orders=api.store).open_work_order(
        good, at("2026-09-30T10:00:00")
    )
    assert api.store.get("wo-good") is None


def test_the_routes_are_described_by_a_valid_openapi_document(api: Api) -> None:
    from openapi_spec_validator import validate

    status, document = api.call("GET", "/v1/work-orders/openapi.json", user=None)
    assert status == 200
    validate(document)
    assert set(document["paths"]) == {"/v1/work-orders", "/v1/work-orders/{order_id}",
                                      "/v1/work-orders/{order_id}/actions"}  # fmt: skip
    assert document["paths"]["/v1/work-orders"]["get"]["security"] == [{"CognitoAuthorizer": []}]
