"""The reports function (通报, R19): reports by role, the public summary, and the scheduled generation.

    GET  /v1/reports?period=2026-11&region=360704&format=json|html|xlsx   (or agency=) signed in, by role
    GET  /v1/public/reports?period=2026-11&region=360700                  no sign-in: per county and department
    POST /v1/reports/generate   {"kind": "month"|"week", "period"?}        operator: the scheduled run, now
    POST /v1/reports/rebuild    {"period": "2026-11"}                       operator: rollups recomputed from ratings

Scheduled: the template's WeeklyReports and MonthlyReports rules invoke it with `{"kind": ...}` as input;
it lists the city's, each county's and each department's report and queues one job each on ReportsQueue
(infra.reports.jobs). The same function takes those jobs (its SQS event source, a few a batch, partial batch
failures): each writes one report to ReportsBucket and tells its management. A job that keeps failing waits in
ReportsDeadLetterQueue; handled again, it writes the same keys (a new version), nothing else.
Who may have which report is `infra.reports.service`'s; this parses the event, calls it and shapes the reply.
Logs carry periods, scopes, formats and counts; a report holds no rater data, and its staff names go to
the management of its region only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import principal_of
from functions.edge.api import api_handler, share_error_handlers
from functions.edge.telemetry import Handler, logger, metrics
from functions.http import errors, json_object
from functions.reports_jobs import KINDS, generated, is_sqs, schedule_handlers
from functions.reports_openapi import GENERATE_ROUTE, PUBLIC_ROUTE, REBUILD_ROUTE, REPORT_ROUTE
from hub.access import Principal, PrincipalRole
from hub.errors import Refused, problem, unknown_field
from hub.reports.document import PeriodKind
from infra import bootstrap
from infra.bootstrap import ReportServices
from infra.reports.service import ReportAnswer, ReportRefused

QUERY = ("period", "region", "agency", "format")


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    def services() -> ReportServices:
        return app.context["services"]()  # type: ignore[no-any-return]

    def report(principal: Principal | None) -> Response[Any]:
        params = app.current_event.query_string_parameters or {}
        unknown = [unknown_field(k) for k in params if k not in QUERY]
        if unknown:
            raise Refused(unknown)  # 422
        built, asked = services(), {k: params.get(k) for k in ("period", "region", "agency")}
        return _delivered(built.reports.report(principal, **asked, fmt=params.get("format"), now=built.clock.now()))

    def operator_body(fields: tuple[str, ...]) -> dict[str, Any]:
        principal = principal_of(app)
        principal.require(principal.role is PrincipalRole.OPERATOR, "run the reports (operators only)",
                          "运行通报生成或重算（仅运维人员）")  # fmt: skip
        body = json_object(app.current_event.raw_event, empty={})
        unknown = [unknown_field(k) for k in body if k not in fields]
        if unknown:
            raise Refused(unknown)  # 422
        return body

    @app.get("/v1/reports", **REPORT_ROUTE)
    def get_report() -> Response[Any]:
        return report(principal_of(app))

    @app.get("/v1/public/reports", **PUBLIC_ROUTE)
    def get_public_report() -> Response[Any]:
        return report(None)

    @app.post("/v1/reports/generate", **GENERATE_ROUTE)
    def generate_now() -> Response[Any]:
        body = operator_body(("kind", "period"))
        kind = str(body.get("kind") or "month")
        if kind not in KINDS:
            return errors(400, [problem("FIELD_INVALID", "kind", f"{kind} (week or month)")])
        built = services()
        try:
            done = built.reports.generate(PeriodKind(kind), built.clock.now(), body.get("period"))
        except ValueError:
            return errors(400, [problem("REPORT_PERIOD_INVALID", "period", str(body.get("period")))])
        generated("reports generated", kind, done)
        # 202 when queued: the jobs write the keys in the next minutes; 200 when written already
        return Response(202 if done.queued else 200, "application/json",
                        _json({"kind": kind, "period": done.period, "queued": done.queued, "keys": done.keys}))

    @app.post("/v1/reports/rebuild", **REBUILD_ROUTE)
    def rebuild_now() -> Response[Any]:
        body = operator_body(("period",))
        if not isinstance(body.get("period"), str):
            return errors(400, [problem("FIELD_REQUIRED", "period")])
        built = services()
        done = built.reports.rebuild(body["period"], built.clock.now())
        logger.info("rollups rebuilt", extra={"period": body["period"]})
        return Response(200, "application/json", _json(done))

    @app.exception_handler(ReportRefused)
    def report_refused(exc: ReportRefused) -> Response[Any]:
        return errors(exc.status, [exc.problem])

    share_error_handlers(app, metric="ReportErrors")  # 404, 401/403, a body refused, 500
    return app


def _delivered(answer: ReportAnswer) -> Response[Any]:
    document, rendered = answer.document, answer.rendered
    logger.info("report", extra={"period": document.period, "region_code": document.scope.region_code,
                                 "agency_code": document.scope.agency_code, "audience": document.audience.value,
                                 "format": rendered.extension, "bytes": len(rendered.body)})  # fmt: skip
    metrics.add_metric(name="ReportsServed", unit=MetricUnit.Count, value=1)
    if rendered.extension == "xlsx":  # bytes: sent base64-encoded
        headers = {"Content-Disposition": f'attachment; filename="{answer.filename}"'}
        return Response(200, rendered.content_type, rendered.body, headers=headers)
    headers = {"Content-Disposition": f'inline; filename="{answer.filename}"'}
    return Response(200, rendered.content_type, rendered.body.decode("utf-8"), headers=headers)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def make_handler(build: Callable[[], ReportServices] = bootstrap.reports_from_env) -> Handler:
    """API Gateway's requests to the router, the schedule rules' events and the queue's jobs to the generation
    (functions/reports_jobs.py); over the services
    `build` makes on first use (tests pass moto, and their own clock)."""
    services = bootstrap.BuiltOnce(build)
    api = api_handler(_build_app, services=services)

    on_schedule, on_jobs = schedule_handlers(services)

    def route(event: dict[str, Any], context: Any) -> Any:
        if "httpMethod" in event:
            return api(event, context)
        return (on_jobs if is_sqs(event) else on_schedule)(event, context)

    return route


handler = make_handler()
