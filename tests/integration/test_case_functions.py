"""The case routes of the ingest function and the scheduler function, in one process with moto behind.

Events as API Gateway and EventBridge send them; SMS through moto's SNS, which records what it sends.
Rules: R5 (window), R6 (default rating), R7 (reminders), R8 (one rating per case), R20 (no personal data
in logs, masked numbers in the notification log).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from openapi_spec_validator import validate

import functions.ingest as ingest_function
import functions.scheduler as scheduler_function
from functions.edge.contract import CaseAnswer
from infra import bootstrap
from infra.case_store import DynamoNotificationLog
from infra.clock import LocalClock
from infra.connector_store import DynamoConnectorStore
from infra.rating_store import DynamoRatingStore
from infra.signing import sign
from tests.conftest import ROOT, SAMPLES
from tests.integration.test_case_stores import create_case_tables
from tests.integration.test_ingest_function import SESSION, api_event, invocation
from tests.integration.test_stores_contract import (
    REGION,
    create_aws_resources,
    fake_credentials,
    personal_data_env,
    queued_messages,
)
from tests.lambda_context import LambdaContext

NOTICE: dict[str, Any] = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
NOTICE_2027 = (ROOT / "tests" / "fixtures" / "calendar" / "2027.json").read_bytes()
PERSONAL = ("13907970004", "赵六", "0797-8123456")


def sealed() -> dict[str, Any]:
    """R20: the sealer and look-up hash the functions store with (the moto KMS key and secret in the env)."""
    return bootstrap.sealed_stores(bootstrap.aws_clients(SESSION, services=bootstrap.SEALING_CLIENTS))
LINK = "https://rate.example/hcp"


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@dataclass
class Hub:
    aws: dict[str, Any]
    handler: Any
    scheduler: Any
    connectors: dict[str, tuple[str, str]]
    clock: LocalClock  # the services' own: no process-wide clock is installed

    def post(self, path: str, body: bytes, *, as_: str = "cases", content_type: str = "application/json",
             query: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        connector_id, secret = self.connectors[as_]
        headers = {"Content-Type": content_type, **sign(secret, body, int(time.time()), connector_id=connector_id)}
        event = api_event("POST", path, path, headers=headers, body=body)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
        reply = self.handler(event, invocation())
        return reply["statusCode"], json.loads(reply["body"])

    def notices(self, *notices: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        status, answer = self.post("/v1/cases", json.dumps(list(notices), ensure_ascii=False).encode())
        CaseAnswer.model_validate(answer)  # the answer is what the OpenAPI document says
        return status, answer["results"]

    def tick(self, when: str) -> dict[str, Any]:
        """Set the clock and fire the scheduler as its schedule rule would."""
        self.clock.set(at(when))
        event = {"version": "0", "id": "e", "detail-type": "Scheduled Event", "source": "aws.events",
                 "time": at(when).isoformat(), "region": REGION, "resources": [], "detail": {}}  # fmt: skip
        result: dict[str, Any] = self.scheduler(event, LambdaContext("SchedulerFunction", 1024))
        return result

    def sms(self) -> list[tuple[str, str]]:
        return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())

    def log(self) -> list[dict[str, Any]]:
        log = DynamoNotificationLog(self.aws["dynamodb"], "cases")
        return [n.as_dict() for n in log.between(at("2026-01-01T00:00:00"), at("2028-01-01T00:00:00"))]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    fake_credentials(monkeypatch)
    clock = LocalClock(at("2026-11-27T16:40:00"))
    with mock_aws():
        aws = create_aws_resources()
        create_case_tables({"CasesTable": "cases", "CalendarTable": "calendar"})
        for name, value in {
            "RATINGS_TABLE": aws["RatingsTable"], "CONNECTORS_TABLE": aws["ConnectorsTable"],
            "NONCES_TABLE": aws["NoncesTable"], "RAW_PAYLOAD_BUCKET": aws["bucket"],
            "FORWARD_QUEUE_URL": aws["queue_url"], "CASES_TABLE": "cases", "CALENDAR_TABLE": "calendar",
            "RATING_LINK": LINK, "CALENDAR_CACHE_SECONDS": "0", **personal_data_env(aws),
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SMS_GATEWAY_URL", raising=False)
        scheduler = scheduler_function.make_handler(lambda: bootstrap.scheduler_from_env(session=SESSION, clock=clock))
        store = DynamoConnectorStore(aws["dynamodb"], aws["ConnectorsTable"])
        now = clock.now()
        connectors = {}
        for role, kind in (("cases", "vertical_system"), ("operator", "operator")):
            connector, secret = store.create(kind, f"demo {role}", "赣县区行政审批局", now=now)
            connectors[role] = (connector.connector_id, secret)
        handler = ingest_function.make_handler(lambda: bootstrap.ingest_from_env(session=SESSION, clock=clock),
                                               lambda: bootstrap.cases_from_env(session=SESSION, clock=clock))
        yield Hub(aws, handler, scheduler, connectors, clock)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.dumps(record.__dict__, default=str, ensure_ascii=False))

    capture = Capture()
    for logger in (ingest_function.logger, scheduler_function.logger):
        logger.addHandler(capture)
    yield lines
    for logger in (ingest_function.logger, scheduler_function.logger):
        logger.removeHandler(capture)


def test_the_sample_case_is_reminded_by_sms_and_default_rated_and_nothing_personal_is_logged_R5_R6_R7_R20(
    hub: Hub, log_lines: list[str]
) -> None:
    # GIVEN the sample notice, handled on Friday 2026-11-27 at 16:40
    status, [result] = hub.notices(NOTICE)
    assert (status, result["outcome"], result["closes_at"]) == (202, "accepted", "2026-12-04T23:59:59+08:00")
    # WHEN the scheduler runs at 16:55, on 12-03 at 10:01 and after the close
    first = hub.tick("2026-11-27T16:55:00")
    second = hub.tick("2026-12-03T10:01:00")
    last = hub.tick("2026-12-05T00:00:30")
    # THEN two SMS through SNS to the applicant, with the case number and the link
    assert (first["outcomes"], second["outcomes"], last["outcomes"]) == ({"sent": 1}, {"sent": 1},
                                                                         {"default_rated": 1})  # fmt: skip
    sms = hub.sms()
    assert [phone for phone, _ in sms] == ["+8613907970004"] * 2
    assert all(NOTICE["case_no"] in text and LINK in text for _, text in sms)
    # and a default rating stored and queued for the province (R6, R9)
    [queued] = [m["rating_id"] for m in queued_messages(hub.aws["sqs"], hub.aws["queue_url"])]
    stored = DynamoRatingStore(hub.aws["dynamodb"], hub.aws["RatingsTable"], **sealed()).get(queued)
    assert stored is not None and stored.rating.evaluation_type == "default" and stored.rating.grade == "satisfied"
    # and the log of notifications holds masked numbers; the function logs hold none (R20)
    assert [(e["kind"], e["outcome"], e["phone"]) for e in hub.log()] == [
        ("first_reminder", "sent", "139****0004"), ("second_reminder", "sent", "139****0004")]  # fmt: skip
    assert log_lines and not [p for p in PERSONAL if any(p in line for line in log_lines)]


def test_a_repeat_is_a_duplicate_and_an_all_rejected_batch_is_422(hub: Hub) -> None:
    hub.notices(NOTICE)

    status, [again] = hub.notices(NOTICE)
    rejected_status, [future] = hub.notices({**NOTICE, "case_no": "F1", "handled_at": "2026-11-28T09:00:00+08:00"})

    assert (status, again["outcome"]) == (202, "duplicate")
    assert (rejected_status, future["errors"][0]["code"]) == (422, "HANDLED_IN_FUTURE")


def test_a_landline_is_accepted_with_a_warning_and_its_reminder_skipped_and_counted_R7(
    hub: Hub, log_lines: list[str]
) -> None:
    status, [result] = hub.notices({**NOTICE, "applicant": {"type": "person", "name": "赵六", "phone": "0797-8123456"}})

    assert (status, result["outcome"], result["reminder"]) == (202, "accepted", "skipped")
    assert result["warnings"][0]["code"] == "PHONE_NOT_MOBILE"
    assert hub.tick("2026-11-27T16:55:00")["outcomes"] == {"skipped:PHONE_NOT_MOBILE": 1}
    assert hub.sms() == [] and hub.log()[0]["reason"] == "PHONE_NOT_MOBILE"
    assert not [p for p in PERSONAL if any(p in line for line in log_lines)]


def test_a_notice_for_a_rated_case_is_refused_R8(hub: Hub) -> None:
    rated = {**NOTICE, "rating": {"grade": "satisfied", "rated_at": "2026-11-27T16:41:00+08:00"}}
    hub.clock.set(at("2026-11-27T16:42:00"))
    assert hub.notices(rated)[1][0]["outcome"] == "accepted"

    status, [result] = hub.notices(NOTICE)

    assert (status, result["errors"][0]["code"]) == (422, "CASE_ALREADY_RATED")


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b"{", "application/json", 400, "BODY_MALFORMED"),
    (b"<notice/>", "application/xml", 415, "CONTENT_TYPE_UNSUPPORTED"),
    (json.dumps([NOTICE] * 101).encode(), "application/json", 413, "BATCH_TOO_LARGE"),
])  # fmt: skip
def test_a_body_that_is_no_notice_is_a_4xx(hub: Hub, body: bytes, content_type: str, status: int, code: str) -> None:
    assert hub.post("/v1/cases", body, content_type=content_type)[0] == status
    assert hub.post("/v1/cases", body, content_type=content_type)[1]["errors"][0]["code"] == code


def test_only_an_operator_loads_a_notice_and_a_bad_one_is_refused_with_its_problems(hub: Hub) -> None:
    invalid = (ROOT / "tests" / "fixtures" / "calendar" / "invalid-2027.json").read_bytes()
    national_day = {"name_en": "National Day", "name_zh": "国庆节", "start": "2026-10-01", "end": "2026-10-08"}
    official = json.dumps({"year": 2026, "title": "2026", "holidays": [national_day]}).encode()

    assert hub.post("/v1/calendar/notices", NOTICE_2027)[1]["errors"][0]["code"] == "OPERATOR_ONLY"
    status, answer = hub.post("/v1/calendar/notices", invalid, as_="operator")
    assert (status, {e["code"] for e in answer["errors"]}) == (422, {"NOTICE_INVALID"})
    status, answer = hub.post("/v1/calendar/notices", official, as_="operator")
    assert (status, answer["errors"][0]["code"]) == (422, "NOTICE_REFUSED")
    status, answer = hub.post("/v1/calendar/notices", official, as_="operator", query={"force": "true"})
    assert (status, answer["year"], answer["forced"]) == (200, 2026, True)


def test_loading_2027_recomputes_a_provisional_window_and_the_answers_say_so(hub: Hub) -> None:
    hub.clock.set(at("2026-12-28T10:30:00"))
    late = {**NOTICE, "case_no": "Y2027", "handled_at": "2026-12-28T10:00:00+08:00"}
    _, [before] = hub.notices(late)

    status, answer = hub.post("/v1/calendar/notices", NOTICE_2027, as_="operator")
    _, [after] = hub.notices(late)

    assert (before["closes_at"], before["provisional"]) == ("2027-01-04T23:59:59+08:00", True)
    assert (status, answer["recomputed"], answer["windows"][0]["provisional"]) == (200, 1, False)
    assert (after["outcome"], after["closes_at"], after["provisional"]) == ("duplicate", "2027-01-05T23:59:59+08:00",
                                                                            False)  # fmt: skip
    # the second reminder moved to the day before the new close; the default to after it
    assert hub.tick("2027-01-05T12:00:00")["outcomes"] == {"skipped:SUPERSEDED": 1, "sent": 1}
    assert hub.tick("2027-01-05T23:59:00")["outcomes"] == {}
    assert hub.tick("2027-01-06T00:00:30")["outcomes"] == {"default_rated": 1}


def test_the_openapi_document_describes_the_case_and_calendar_routes(hub: Hub) -> None:
    reply = hub.handler(api_event("GET", "/openapi.json", "/openapi.json"), invocation())
    document = json.loads(reply["body"])

    validate(document)
    assert {"202", "413", "422"} <= set(document["paths"]["/v1/cases"]["post"]["responses"])
    assert {"200", "403", "422"} <= set(document["paths"]["/v1/calendar/notices"]["post"]["responses"])
    assert "provisional" in document["components"]["schemas"]["CaseItemResult"]["properties"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "path"),
    [
        (NOTICE_2027, "text/plain", 415, "CONTENT_TYPE_UNSUPPORTED", ""),
        (b"[1, 2]", "application/json", 400, "BODY_MALFORMED", ""),
        (NOTICE_2027.replace(b'"year": 2027,', b'"year": 2027, "year": 2028,'), "application/json", 400,
         "BODY_MALFORMED", ""),
        (NOTICE_2027.replace(b'"year": 2027,', b'"year": 2027, "yaer": 2027,'), "application/json", 422,
         "FIELD_UNKNOWN", "yaer"),
    ],
)  # fmt: skip
def test_a_calendar_notice_body_is_read_as_every_json_route_reads_one(
    hub: Hub, body: bytes, content_type: str, status: int, code: str, path: str
) -> None:
    """Issue 11 items 1-3 and 7 on the operator route: a year given twice is not guessed; a typo is named."""
    got, answer = hub.post("/v1/calendar/notices", body, as_="operator", content_type=content_type)
    assert (got, [(e["code"], e["path"]) for e in answer["errors"]]) == (status, [(code, path)])
