"""The ingest function: signed ratings in over the REST API, one result per item out.

    POST /v1/connectors/{connector_id}/ratings   the connector's own format, bytes exactly as sent
    POST /v1/ratings                             the unified JSON: one rating or a list of them
    POST /v1/cases, POST /v1/calendar/notices    completed cases and calendar notices (functions.ingest_cases)
    GET  /openapi.json, GET /docs                the OpenAPI description and Swagger UI

Thin on purpose: check the signature (functions.edge.signed), pick the adapter, call the service, shape the
reply. The routes' contract is functions.edge.contract; the OpenAPI document (functions.openapi_doc) is
built only when asked for: it needs Powertools' OpenAPI models, ~70 ms of import a cold start should not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge import contract
from functions.edge.api import api_handler, refused, share_error_handlers
from functions.edge.contract import SIGNED, IngestAnswer
from functions.edge.docs import serve_hub_document
from functions.edge.signed import Signed, signed_request
from functions.edge.telemetry import Handler, logger, metrics
from functions.http import errors, reply, request_id
from functions.ingest_cases import add_case_routes, status_of_refusal
from hub.errors import Refused, problem
from infra import bootstrap, deadline
from infra.bootstrap import CaseServices, IngestServices


def _build_app() -> APIGatewayRestResolver:
    from functions.edge.ingest_openapi import SOURCE_EXAMPLES, SOURCE_ROUTE, UNIFIED_BODY

    # debug stays off whatever POWERTOOLS_DEV says: debug mode prints whole events, personal data included
    app = APIGatewayRestResolver(debug=False)
    signed: dict[str, Any] = {"security": SIGNED, "responses": contract.RESPONSES}

    @app.post("/v1/connectors/<connector_id>/ratings", summary="Post ratings in the connector's own format",
              description=SOURCE_ROUTE, tags=["ratings"], operation_id="postSourceRatings", **signed,
              openapi_extensions={"requestBody": {"required": True, "content": SOURCE_EXAMPLES}})  # fmt: skip
    def post_source_ratings(connector_id: str) -> Response[IngestAnswer]:
        return _in_time(app, path_connector_id=connector_id)

    @app.post("/v1/ratings", summary="Post ratings in the unified JSON", tags=["ratings"],
              description="Any connector may post the unified format; X-Hcp-Connector names it.",
              operation_id="postUnifiedRatings", **signed,
              openapi_extensions={"requestBody": UNIFIED_BODY})  # fmt: skip
    def post_unified_ratings() -> Response[IngestAnswer]:
        return _in_time(app, path_connector_id=None)

    add_case_routes(app)
    serve_hub_document(app)
    share_error_handlers(app, metric="IngestErrors")
    return app


def _in_time(app: APIGatewayRestResolver, *, path_connector_id: str | None) -> Response[Any]:
    """`_ingest` within the invocation's time (`infra.deadline`): an AWS call that could not be answered before
    Lambda stops the function is not attempted, and a request not finished for want of AWS answers (none in
    time, throttled) is 503 HUB_BUSY with Retry-After, not a 502 from API Gateway after the timeout. Nothing
    accepted is lost: a rating stored before is pending (the sweep queues it) and a re-post answers it
    `duplicate` with its rating id (R8)."""
    remaining = getattr(app.lambda_context, "get_remaining_time_in_millis", None)
    try:
        if remaining is None:  # no Lambda context (a direct call): no deadline to keep
            return _ingest(app, path_connector_id=path_connector_id)
        with deadline.within(remaining):
            return _ingest(app, path_connector_id=path_connector_id)
    except Exception as exc:
        if not deadline.retryable(exc):
            raise
        logger.warning("not finished in time", extra={"error": type(exc).__name__, "remaining_ms": remaining()
                       if remaining else None})  # fmt: skip
        metrics.add_metric(name="IngestBusy", unit=MetricUnit.Count, value=1)
        after = deadline.RETRY_AFTER_S
        busy = problem("HUB_BUSY", "", f"no answer in time from {type(exc).__name__}",
                       detail_zh="后端服务未及时响应")  # fmt: skip
        answer = errors(503, [busy])
        answer.headers["Retry-After"] = str(after)
        return answer


def _ingest(app: APIGatewayRestResolver, *, path_connector_id: str | None) -> Response[Any]:
    services: IngestServices = app.context["services"]()
    now = services.clock.now()
    signed = signed_request(app, services, path_connector_id)
    if not isinstance(signed, Signed):
        return signed
    connector = signed.connector
    kind, settings = ("unified", None) if path_connector_id is None else (connector.kind, connector.settings)
    adapter = _adapter(kind, settings, None if path_connector_id is None else connector.spec)
    try:
        report = services.service.ingest(connector, adapter, signed.body, signed.content_type, request_id(app), now)
    except Refused as exc:
        return refused(status_of_refusal(exc.problems), exc.problems, connector_id=connector.connector_id)
    counts = report.counts()
    for outcome in ("accepted", "duplicate", "conflict", "rejected"):
        metrics.add_metric(name=f"Ratings{outcome.title()}", unit=MetricUnit.Count, value=counts.get(outcome, 0))
    if report.not_queued:
        metrics.add_metric(name="RatingsLeftForSweep", unit=MetricUnit.Count, value=len(report.not_queued))
    logger.info("ingested", extra={
        "connector_id": connector.connector_id, "raw_ref": report.raw_ref, "counts": counts,
        "items": [[r.index, r.outcome, r.rating_id, [p.code for p in r.errors]] for r in report.results],
        "not_queued": list(report.not_queued),
    })  # fmt: skip
    # every item refused: a 4xx, so a single bad rating reads as an error; the body is the same shape
    return reply(422 if counts and set(counts) == {"rejected"} else 202, report.as_dict())


def _adapter(kind: str, settings: Any, spec: str | None = None) -> Any:
    """One cache for every spec, a family's or a registered connector's (the registry's dry-run shares it)."""
    from connectors.registry import compiled

    return compiled(kind, settings if kind != "unified" else None, spec)


def make_handler(
    build: Callable[[], IngestServices] = bootstrap.ingest_from_env,
    build_cases: Callable[[], CaseServices] = bootstrap.cases_from_env,
) -> Handler:
    """A Lambda handler over the services `build` (and `build_cases`, for the case and calendar routes) make
    on first use (tests pass fakes or moto, and their own clock)."""
    if deadline.guard not in bootstrap.CLIENT_HOOKS:  # inert outside `deadline.within` (other functions' clients)
        bootstrap.CLIENT_HOOKS.append(deadline.guard)
    services, cases = bootstrap.BuiltOnce(build), bootstrap.BuiltOnce(build_cases)
    return api_handler(_build_app, traced=True, services=services, cases=cases)


handler = make_handler()
