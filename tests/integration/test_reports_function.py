"""The reports function in one process (通报, R19): API Gateway proxy events and schedule-rule events through
`make_handler(build=...)`, over the report service with the in-memory rollups, archive and notifier, and a
clock of the test's own (no global clock installed). Rules: R18 (a county's scope), R19, R20 (no staff view
in public, no rater data).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openpyxl
import pytest

from functions.edge.telemetry import Handler
from functions.reports import make_handler
from infra.bootstrap import ReportServices
from infra.clock import LocalClock
from infra.memory import InMemoryRollupStore
from infra.reports.archive import InMemoryReportArchive, InMemoryReportNotifier
from infra.reports.jobs import InMemoryReportJobs
from infra.reports.service import ReportService
from infra.reports.wiring import composer_over
from tests.integration.test_ingest_function import api_event, invocation

NOW = datetime.fromisoformat("2026-12-02T09:00:00+08:00")
CLAIMS = {
    "ganxian-management": {"cognito:groups": "management", "custom:region_code": "360704000000"},
    "market-dept": {"cognito:groups": "department", "custom:agency_code": "11360704MB1C000102"},
    "operator": {"cognito:groups": "operator"},
}


@dataclass
class Reports:
    handler: Handler
    clock: LocalClock
    archive: InMemoryReportArchive
    notifier: InMemoryReportNotifier

    def call(self, method: str, path: str, *, user: str | None = None, query: dict[str, str] | None = None,
             body: Any = None) -> dict[str, Any]:  # fmt: skip
        data = json.dumps(body).encode() if body is not None else b""
        event = api_event(method, path, path, body=data, headers={"Authorization": "Bearer x"} if user else None)
        if user is not None:
            event["requestContext"]["authorizer"] = {"claims": {"sub": f"sub-{user}", "cognito:username": user,
                                                                **CLAIMS[user]}}  # fmt: skip
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
        reply: dict[str, Any] = self.handler(event, invocation())
        return reply

    def answer(self, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        reply = self.call(*args, **kwargs)
        return reply["statusCode"], json.loads(reply["body"])


def disposition(reply: dict[str, Any]) -> str:
    """The Content-Disposition header (a REST API's proxy reply carries multi-value headers)."""
    headers = reply.get("multiValueHeaders") or {k: [v] for k, v in (reply.get("headers") or {}).items()}
    return str(headers["Content-Disposition"][0])


@pytest.fixture
def reports() -> Reports:
    clock, archive, notifier = LocalClock(NOW), InMemoryReportArchive(), InMemoryReportNotifier()
    service = ReportService(composer_over(InMemoryRollupStore()), archive, notifier, city="360700000000")
    return Reports(make_handler(build=lambda: ReportServices(service, clock)), clock, archive, notifier)


def test_the_public_summary_needs_no_sign_in_and_has_no_staff_view_R19_R20(reports: Reports) -> None:
    reply = reports.call("GET", "/v1/public/reports", query={"period": "2026-11", "region": "360700"})
    assert reply["statusCode"] == 200 and disposition(reply).startswith("inline;")
    document = json.loads(reply["body"])
    assert document["audience"] == "public" and "staff" not in json.dumps(document["views"]).lower()


def test_signed_in_routes_refuse_without_claims_and_outside_the_scope_R18(reports: Reports) -> None:
    status, answer = reports.answer("GET", "/v1/reports", query={"period": "2026-11", "region": "360704"})
    assert (status, answer["errors"][0]["code"]) == (401, "TOKEN_MISSING")
    status, answer = reports.answer("GET", "/v1/reports", user="ganxian-management",
                                    query={"period": "2026-11", "region": "360702"})  # fmt: skip
    assert (status, answer["errors"][0]["code"]) == (403, "FORBIDDEN")
    status, answer = reports.answer("GET", "/v1/reports", user="ganxian-management",
                                    query={"period": "2026-11", "region": "360704"})  # fmt: skip
    assert status == 200 and answer["audience"] == "management"


def test_bad_queries_are_4xx_by_code(reports: Reports) -> None:
    status, answer = reports.answer("GET", "/v1/public/reports", query={"period": "2026-11", "regoin": "360700"})
    assert (status, answer["errors"][0]["code"], answer["errors"][0]["path"]) == (422, "FIELD_UNKNOWN", "regoin")
    status, answer = reports.answer("GET", "/v1/public/reports", query={"period": "2026-11", "format": "pdf"})
    assert (status, answer["errors"][0]["code"]) == (400, "REPORT_FORMAT_UNKNOWN")
    status, answer = reports.answer("GET", "/v1/nowhere")
    assert (status, answer["errors"][0]["code"]) == (404, "ROUTE_UNKNOWN")


def test_a_period_not_ended_by_the_services_clock_is_not_ready(reports: Reports) -> None:
    """The handler reads the clock its services carry: the same request before and after November ends."""
    query = {"period": "2026-11", "region": "360700"}
    reports.clock.set(datetime.fromisoformat("2026-11-20T09:00:00+08:00"))
    status, answer = reports.answer("GET", "/v1/public/reports", query=query)
    assert (status, answer["errors"][0]["code"]) == (404, "REPORT_NOT_READY")
    reports.clock.set(NOW)
    assert reports.call("GET", "/v1/public/reports", query=query)["statusCode"] == 200


def test_a_workbook_is_an_attachment_sent_base64_encoded(reports: Reports) -> None:
    reply = reports.call("GET", "/v1/reports", user="market-dept",
                         query={"period": "2026-11", "agency": "11360704MB1C000102", "format": "xlsx"})  # fmt: skip
    assert reply["statusCode"] == 200 and reply["isBase64Encoded"] is True
    assert disposition(reply).startswith("attachment;")
    assert openpyxl.load_workbook(io.BytesIO(base64.b64decode(reply["body"]))).sheetnames


def test_operators_generate_now_others_are_refused(reports: Reports) -> None:
    status, answer = reports.answer("POST", "/v1/reports/generate", user="ganxian-management", body={"kind": "week"})
    assert (status, answer["errors"][0]["code"], reports.archive.objects) == (403, "FORBIDDEN", {})
    status, answer = reports.answer("POST", "/v1/reports/generate", user="operator", body={"kind": "week", "x": 1})
    assert (status, answer["errors"][0]["code"]) == (422, "FIELD_UNKNOWN")
    status, answer = reports.answer("POST", "/v1/reports/generate", user="operator", body={"kind": "day"})
    assert (status, answer["errors"][0]["code"]) == (400, "FIELD_INVALID")
    status, answer = reports.answer("POST", "/v1/reports/generate", user="operator", body={"kind": "month"})
    assert status == 200 and answer["kind"] == "month" and set(answer["keys"]) == set(reports.archive.objects)
    assert "reports/month/2026-11/360700000000/management.html" in answer["keys"]


def test_rebuild_needs_a_period(reports: Reports) -> None:
    status, answer = reports.answer("POST", "/v1/reports/rebuild", user="operator", body={})
    assert (status, answer["errors"][0]["code"]) == (400, "FIELD_REQUIRED")
    status, answer = reports.answer("POST", "/v1/reports/rebuild", user="operator", body={"period": "2026-13"})
    assert (status, answer["errors"][0]["code"]) == (400, "REPORT_PERIOD_INVALID")


def test_a_schedule_rule_writes_the_last_whole_week_by_the_services_clock(reports: Reports) -> None:
    written = reports.handler({"kind": "week", "resources": ["arn:aws-cn:events:rule/WeeklyReports"]}, invocation())
    assert written == {"kind": "week", "period": "2026-W48", "queued": 0, "objects": len(reports.archive.objects)}
    assert written["objects"] > 0
    assert all(key.startswith("reports/week/2026-W48/") for key in reports.archive.objects)
    by_name = reports.handler({"resources": ["arn:aws-cn:events:rule/hcp-MonthlyReports"]}, invocation())
    assert by_name["kind"] == "month"


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"h{i}", "body": body, "attributes": {
        "ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ReportsQueue", "awsRegion": "us-east-1"}
        for i, body in enumerate(bodies)]}  # fmt: skip


def test_a_run_queues_its_reports_and_each_job_writes_one_a_broken_job_fails_alone() -> None:
    """The fan-out (issue 13): the generate route answers 202 with the keys to come; the jobs, taken by the same
    function from its queue, write them; a job naming no target is reported as the batch's one failure."""
    clock, archive, notifier = LocalClock(NOW), InMemoryReportArchive(), InMemoryReportNotifier()
    jobs = InMemoryReportJobs()
    service = ReportService(composer_over(InMemoryRollupStore()), archive, notifier, city="360700000000", jobs=jobs)
    reports = Reports(make_handler(build=lambda: ReportServices(service, clock)), clock, archive, notifier)
    status, answer = reports.answer("POST", "/v1/reports/generate", user="operator", body={"kind": "week"})
    assert (status, answer["queued"], archive.objects) == (202, 2, {})
    queued = jobs.take()
    reply = reports.handler(sqs_event([*queued, '{"period": "2026-W48"}']), invocation())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert set(archive.objects) == set(answer["keys"]) and len(notifier.published) == 1
    scheduled = reports.handler({"kind": "month"}, invocation())
    assert scheduled == {"kind": "month", "period": "2026-11", "queued": 2, "objects": 6} and len(jobs.take()) == 2
