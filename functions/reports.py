"""The reports function (通报, R19): reports by role, the public summary, and the scheduled generation.

    GET  /v1/reports?period=2026-11&region=360704&format=json|html|xlsx   (or agency=) signed in, by role
    GET  /v1/public/reports?period=2026-11&region=360700                  no sign-in: per county and department
    POST /v1/reports/generate   {"kind": "month"|"week", "period"?}        operator: the scheduled run, now
    POST /v1/reports/rebuild    {"period": "2026-11"}                       operator: rollups recomputed from ratings

Scheduled: the template's WeeklyReports and MonthlyReports rules invoke it with `{"kind": ...}` as input;
it writes the city's, each county's and each department's report to ReportsBucket and tells management.
Logs carry periods, scopes, formats and counts; a report holds no rater data, and its staff names go to
the management of its region only (infra/reports/service.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import denied, principal_of
from functions.http import BadBody, errors, json_object, request_id
from hub.access import AccessDenied, PrincipalRole
from hub.errors import problem, unknown_field
from hub.reports.document import PeriodKind
from infra import bootstrap
from infra.clock import current_clock
from infra.reports.service import ReportRefused
from infra.reports.wiring import REPORT_VARIABLES, reports_from_env
from infra.settings import MissingSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
app = APIGatewayRestResolver()
service = bootstrap.BuiltOnce(reports_from_env, REPORT_VARIABLES)


def _report(signed_in: bool) -> Response[Any]:
    params = app.current_event.query_string_parameters or {}
    principal = None
    if signed_in:
        try:
            principal = principal_of(app)
        except AccessDenied as exc:
            return denied(exc)
    unknown = [unknown_field(k) for k in params if k not in ("period", "region", "agency", "format")]
    if unknown:
        return errors(422, unknown)
    try:
        answer = service().report(
            principal, period=params.get("period"), region=params.get("region"), agency=params.get("agency"),
            fmt=params.get("format"), now=current_clock().now(),
        )  # fmt: skip
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code, "principal": principal.as_log() if principal else None})
        return denied(exc)
    except ReportRefused as exc:
        return errors(exc.status, [exc.problem])
    except MissingSettings as exc:
        logger.error("misconfigured", extra={"missing": exc.names})
        return errors(500, [problem("INTERNAL_ERROR", "", request_id(app))])
    document, rendered = answer.document, answer.rendered
    logger.info("report", extra={"period": document.period, "region_code": document.scope.region_code,
                                 "agency_code": document.scope.agency_code, "audience": document.audience.value,
                                 "format": rendered.extension, "bytes": len(rendered.body)})  # fmt: skip
    metrics.add_metric(name="ReportsServed", unit=MetricUnit.Count, value=1)
    headers = {"Content-Disposition": f'inline; filename="{answer.filename}"'}
    if rendered.extension == "xlsx":
        headers["Content-Disposition"] = f'attachment; filename="{answer.filename}"'
        return Response(200, rendered.content_type, rendered.body, headers=headers)  # bytes: sent base64-encoded
    return Response(200, rendered.content_type, rendered.body.decode("utf-8"), headers=headers)


@app.get(
    "/v1/reports",
    summary="A 通报 (results report) in your scope",
    description="period=2026-11 (or 2026-11-28, 2026-W48, 2026-Q4, 2026), region=<division code> or agency=<credit "
    "code>, format=json|html|xlsx (default json). Management its region (staff names included), a department its "
    "own agencies, an operator everything; outside your scope is 403 FORBIDDEN, a period not ended 404 "
    "REPORT_NOT_READY with when it is generated. Figures only: no rater data (R19, R20).",
    tags=["reports"],
)
def get_report() -> Response[Any]:
    return _report(signed_in=True)


@app.get(
    "/v1/public/reports",
    summary="The public summary (第二十条 向社会公布), no sign-in",
    description="The same parameters; per county and department, no staff view at all.",
    tags=["reports"],
)
def get_public_report() -> Response[Any]:
    return _report(signed_in=False)


def _operator_body(fields: tuple[str, ...]) -> dict[str, Any] | Response[Any]:
    try:
        principal = principal_of(app)
        principal.require(principal.role is PrincipalRole.OPERATOR, "run the reports (operators only)",
                          "运行通报生成或重算（仅运维人员）")  # fmt: skip
    except AccessDenied as exc:
        return denied(exc)
    try:
        body = json_object(app.current_event.raw_event, empty={})
    except BadBody as exc:
        return errors(exc.status, [exc.problem])
    unknown = [unknown_field(k) for k in body if k not in fields]
    if unknown:
        return errors(422, unknown)
    return body


@app.post(
    "/v1/reports/generate",
    summary="Run the scheduled generation now (operators)",
    description='{"kind": "month"|"week", "period": "2026-11"?}: the city, each county and each department, as '
    "HTML, XLSX and JSON in ReportsBucket; management told on the work-order topic. Answers the keys written.",
    tags=["reports"],
)
def generate_now() -> Response[Any]:
    body = _operator_body(("kind", "period"))
    if isinstance(body, Response):
        return body
    kind_text = str(body.get("kind") or "month")
    if kind_text not in (PeriodKind.WEEK.value, PeriodKind.MONTH.value):
        return errors(400, [problem("FIELD_INVALID", "kind", f"{kind_text} (week or month)")])
    try:
        keys = service().generate(PeriodKind(kind_text), current_clock().now(), body.get("period"))
    except ReportRefused as exc:
        return errors(exc.status, [exc.problem])
    except ValueError:
        return errors(400, [problem("REPORT_PERIOD_INVALID", "period", str(body.get("period")))])
    logger.info("reports generated", extra={"kind": kind_text, "objects": len(keys)})
    metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=len(keys))
    return Response(200, "application/json", _json({"kind": kind_text, "keys": keys}))


@app.post(
    "/v1/reports/rebuild",
    summary="Recompute a period's rollups from the ratings (operators)",
    description='{"period": "2026-11"}: repair or migration; the period\'s whole months are recomputed.',
    tags=["reports"],
)
def rebuild_now() -> Response[Any]:
    body = _operator_body(("period",))
    if isinstance(body, Response):
        return body
    if not isinstance(body.get("period"), str):
        return errors(400, [problem("FIELD_REQUIRED", "period")])
    try:
        done = service().rebuild(body["period"], current_clock().now())
    except ReportRefused as exc:
        return errors(exc.status, [exc.problem])
    logger.info("rollups rebuilt", extra={"period": body["period"]})
    return Response(200, "application/json", _json(done))


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@app.exception_handler(Exception)
def internal_error(exc: Exception) -> Response[Any]:
    logger.error("failed", extra={"error": type(exc).__name__})
    return errors(500, [problem("INTERNAL_ERROR", "", request_id(app))])


@app.not_found
def not_found(_: Exception) -> Response[Any]:
    return errors(404, [problem("ROUTE_UNKNOWN", "", f"{app.current_event.http_method} {app.current_event.path}")])


def _scheduled_kind(event: dict[str, Any]) -> PeriodKind:
    """The rule's input names the kind; without one (a rule fired by hand), the rule's name does."""
    kind = event.get("kind")
    if kind in (PeriodKind.WEEK.value, PeriodKind.MONTH.value):
        return PeriodKind(kind)
    rules = " ".join(event.get("resources") or []).lower()
    return PeriodKind.WEEK if "week" in rules else PeriodKind.MONTH


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "httpMethod" not in event:  # a schedule rule
        kind = _scheduled_kind(event)
        keys = service().generate(kind, current_clock().now())
        logger.info("scheduled reports written", extra={"kind": kind.value, "objects": len(keys)})
        metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=len(keys))
        return {"kind": kind.value, "written": len(keys)}
    return app.resolve(event, context)

