"""Ingest's case and calendar routes, signed like ratings (functions.edge.signed):

    POST /v1/cases               completed-case notices (hub.case_intake): the rating window, reminders, default
    POST /v1/calendar/notices    a year's holiday notice (hub.calendar_admin), signed by an operator credential
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge import contract
from functions.edge.api import refused
from functions.edge.contract import SIGNED, CalendarAnswer, CaseAnswer
from functions.edge.signed import Signed, signed_request
from functions.edge.telemetry import logger, metrics
from functions.http import is_json, reply, request_id
from hub.errors import Problem, Refused, problem
from infra.bootstrap import CaseServices

OPERATOR_KIND = "operator"  # connectors of this kind hold the operator credential (docs/cases.md)
# Windows recounted within a calendar load's request (~40 ms each, inside API Gateway's 29 s and our 15 s);
# the scheduler recounts the rest on its next runs.
RECOMPUTE_IN_REQUEST = 100
_STATUS_OF_CODE = {
    "BATCH_TOO_LARGE": 413, "BODY_TOO_LARGE": 413, "CONTENT_TYPE_UNSUPPORTED": 415, "CONNECTOR_OUT_OF_SCOPE": 403,
}  # fmt: skip


def status_of_refusal(problems: list[Problem]) -> int:
    """A whole body refused by the ingest or case service: the gravest of its problems' statuses."""
    return max((_STATUS_OF_CODE.get(p.code, 400) for p in problems), default=400)


def add_case_routes(app: APIGatewayRestResolver) -> None:
    from functions.edge.ingest_openapi import CASE_ROUTE, NOTICE_ROUTE

    @app.post("/v1/cases", summary="Post completed-case notices (办结信息)", description=CASE_ROUTE, tags=["cases"],
              operation_id="postCaseNotices", security=SIGNED, responses=contract.CASE_RESPONSES)  # fmt: skip
    def post_cases() -> Response[CaseAnswer]:
        return _cases(app)

    @app.post("/v1/calendar/notices", summary="Load a year's holiday notice (operators)", description=NOTICE_ROUTE,
              tags=["operators"], operation_id="postCalendarNotice", security=SIGNED,
              responses=contract.NOTICE_RESPONSES)  # fmt: skip
    def post_calendar_notice() -> Response[CalendarAnswer]:
        return _calendar_notice(app)


def _cases(app: APIGatewayRestResolver) -> Response[Any]:
    signed = signed_request(app, app.context["services"]())
    if not isinstance(signed, Signed):
        return signed
    cases: CaseServices = app.context["cases"]()
    connector = signed.connector
    try:
        report = cases.intake.receive(connector, signed.body, signed.content_type, request_id(app), cases.clock.now())
    except Refused as exc:
        return refused(status_of_refusal(exc.problems), exc.problems, connector_id=connector.connector_id)
    counts, warnings = report.counts(), report.warnings()
    for outcome in ("accepted", "duplicate", "rejected"):
        metrics.add_metric(name=f"CaseNotices_{outcome}", unit=MetricUnit.Count, value=counts.get(outcome, 0))
    for code, count in warnings.items():
        metrics.add_metric(name=f"CaseNoticeWarnings_{code}", unit=MetricUnit.Count, value=count)
    logger.info("case notices", extra={
        "connector_id": connector.connector_id, "raw_ref": report.raw_ref, "counts": counts,
        "warnings": warnings, "not_queued": list(report.not_queued),
        "items": [[r.index, r.outcome, [p.code for p in r.errors]] for r in report.results],
    })  # fmt: skip
    return reply(422 if counts and set(counts) == {"rejected"} else 202, report.as_dict())


def _calendar_notice(app: APIGatewayRestResolver) -> Response[Any]:
    signed = signed_request(app, app.context["services"]())
    if not isinstance(signed, Signed):
        return signed
    connector_id = signed.connector.connector_id
    if signed.connector.kind != OPERATOR_KIND:
        only = problem("OPERATOR_ONLY", "", "load a calendar notice", detail_zh="加载节假日安排通知")
        return refused(403, [only], connector_id=connector_id)
    if not is_json(signed.content_type):
        mime = (signed.content_type or "").split(";", 1)[0].strip()[:60]
        wrong = problem("CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; a notice is JSON", detail_zh=f"{mime}；通知须为 JSON")
        return refused(415, [wrong], connector_id=connector_id)
    force = app.current_event.get_query_string_value("force", "").lower() in ("1", "true", "yes")
    cases: CaseServices = app.context["cases"]()
    try:
        report = cases.calendar.load(
            signed.body, force=force, now=cases.clock.now(), origin="the notice", limit=RECOMPUTE_IN_REQUEST
        )
    except Refused as exc:
        status = 400 if any(p.code.startswith("BODY_") for p in exc.problems) else 422
        return refused(status, exc.problems, connector_id=connector_id)
    metrics.add_metric(name="CalendarNoticesLoaded", unit=MetricUnit.Count, value=1)
    logger.info("calendar notice loaded", extra={
        "connector_id": connector_id, "year": report.notice.year, "forced": force,
        "recomputed": len(report.recomputed), "remaining": report.remaining,
    })  # fmt: skip
    return reply(200, report.as_dict())
