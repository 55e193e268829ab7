"""The ingest function: signed ratings in over the REST API, one result per item out.

    POST /v1/connectors/{connector_id}/ratings   the connector's own format, bytes exactly as sent
    POST /v1/ratings                             the unified JSON: one rating or a list of them
    POST /v1/cases                               completed-case notices (hub.case_intake), signed the same way
    POST /v1/calendar/notices                    a year's holiday notice, signed by an operator credential
    GET  /openapi.json, GET /docs                the OpenAPI description and Swagger UI

Thin on purpose: authenticate (infra.signing), pick the adapter, call the ingest service, shape the
reply. Services are built on the first invocation (so a missing variable is named then, not at
import), time comes from `infra.clock.current_clock()`, and the OpenAPI document is built only when
asked for: it needs Powertools' OpenAPI models, ~70 ms of import that a cold start should not pay.
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from functions.http import MAX_BODY_BYTES, header, is_json
from functions.http import BadBody as _BadBody
from functions.http import body_of as _body
from functions.http import reply as _reply
from functions.http import request_id as _request_id
from hub.errors import Problem, Refused, problem
from infra import bootstrap
from infra.bootstrap import CaseServices, IngestServices
from infra.clock import current_clock
from infra.settings import CaseSettings, IngestSettings, MissingSettings
from infra.signing import HEADERS, AuthRefused, verify

OPERATOR_KIND = "operator"  # connectors of this kind hold the operator credential (docs/cases.md)
# Windows recounted within a calendar load's request (~40 ms each, inside API Gateway's 29 s and our 15 s);
# the scheduler recounts the rest on its next runs.
RECOMPUTE_IN_REQUEST = 100
MAX_ITEMS = 100
_STATUS_OF_CODE = {
    "BATCH_TOO_LARGE": 413, "BODY_TOO_LARGE": 413, "CONTENT_TYPE_UNSUPPORTED": 415, "CONNECTOR_OUT_OF_SCOPE": 403,
}  # fmt: skip

# Never log events or bodies: they carry raters' names, phones and ID numbers (R20). Log counts,
# connector ids, rating ids and codes.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_OUTCOME_METRICS = {
    "accepted": "RatingsAccepted",
    "duplicate": "RatingsDuplicate",
    "conflict": "RatingsConflict",
    "rejected": "RatingsRejected",
}


# --------------------------------------------------------------------------------------------------
# The HTTP contract, as models for the OpenAPI document (the replies are built by hub.ingest; the
# function tests check every reply against these models)


# Built when the OpenAPI document is (or a test validates a reply), not at import.
_DOCUMENTATION = ConfigDict(defer_build=True)


class Error(BaseModel):
    """One refusal: a stable code, the field, messages in English and Chinese."""

    model_config = _DOCUMENTATION

    code: str = Field(description="stable machine code", examples=["BAD_RATING_WITHOUT_REASON"])
    path: str = Field(description="the unified field path; empty for the whole body or request")
    message: str
    message_zh: str
    rule: str | None = Field(default=None, description="the rule of the regulation (R1-R20), when one applies")
    source_path: str | None = Field(default=None, description="the field in the source's own payload")


class ItemResult(BaseModel):
    model_config = _DOCUMENTATION

    index: int = Field(description="the item's position in the body, from 0")
    outcome: Literal["accepted", "duplicate", "conflict", "rejected"] = Field(
        description="accepted: stored and queued for the province; duplicate: this very rating was accepted "
        "before; conflict: its source id or its case is taken by another rating, which stays; rejected: see errors"
    )
    rating_id: str | None = Field(default=None, description="the hub's id, deterministic from connector and source id")
    source_rating_id: str | None = None
    errors: list[Error] = Field(default_factory=list)


class CaseItemResult(BaseModel):
    model_config = _DOCUMENTATION

    index: int = Field(description="the notice's position in the body, from 0")
    outcome: Literal["accepted", "duplicate", "rejected"] = Field(
        description="accepted: the window is open and its reminders scheduled (or, for a notice carrying its "
        "rating, the rating is stored and queued); duplicate: this very notice was accepted before; rejected: "
        "see errors (CASE_ALREADY_RATED: the case holds a rating, a default one included)"
    )
    case_key: str | None = Field(default=None, description="agency code / case number / step")
    rating_id: str | None = Field(default=None, description="the embedded rating's id, when the notice carried one")
    closes_at: str | None = Field(default=None, description="when the rating window closes (R5), with its offset")
    provisional: bool | None = Field(
        default=None,
        description="closes_at was counted through a year without a published calendar (Monday-Friday assumed); "
        "it is recomputed when an operator loads that year's notice",
    )
    reminder: Literal["scheduled", "skipped"] | None = Field(
        default=None, description="skipped: no mobile number to remind (see warnings)"
    )
    errors: list[Error] = Field(default_factory=list)
    warnings: list[Error] = Field(
        default_factory=list, description="accepted, with something to fix (PHONE_NOT_MOBILE, NO_PHONE)"
    )


class CaseAnswer(BaseModel):
    model_config = _DOCUMENTATION

    results: list[CaseItemResult]


class CalendarAnswer(BaseModel):
    model_config = _DOCUMENTATION

    year: int
    title: str
    forced: bool
    recomputed: int = Field(description="rating windows recounted with the notice, now")
    remaining: bool = Field(description="more windows wait; the scheduler recounts them within minutes")
    windows: list[dict[str, Any]] = Field(description="the first 100 recounted: case_key, closes_at, provisional")


class IngestAnswer(BaseModel):
    model_config = _DOCUMENTATION

    results: list[ItemResult]


class RefusalAnswer(BaseModel):
    model_config = _DOCUMENTATION

    errors: list[Error]


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": RefusalAnswer}}}


RESPONSES: dict[int, Any] = {
    202: {
        "description": "One result per item, by index (at least one not rejected)",
        "content": {"application/json": {"model": IngestAnswer}},
    },
    422: {
        "description": "Every item was rejected: the same per-item results, each with its errors",
        "content": {"application/json": {"model": IngestAnswer}},
    },
    400: _refusal(
        "BODY_MALFORMED (not JSON, a duplicate key, not an object or a list of objects), BODY_EMPTY, "
        "BODY_UNDECODABLE: the body cannot be taken as a whole. No rating is stored; the signed body is archived "
        "(encrypted) for audit, see docs/signing.md"
    ),
    401: _refusal(
        "SIGNATURE_MISSING, SIGNATURE_INVALID, KEY_RETIRED, TIMESTAMP_EXPIRED, NONCE_REUSED, CONNECTOR_UNKNOWN"
    ),
    403: _refusal(
        "CONNECTOR_DISABLED; CONNECTOR_OUT_OF_SCOPE (an item for an agency or region the connector may "
        "not rate for: nothing of the request is kept)"
    ),
    413: _refusal(f"BODY_TOO_LARGE (over {MAX_BODY_BYTES} bytes) or BATCH_TOO_LARGE (over {MAX_ITEMS} items)"),
    415: _refusal("CONTENT_TYPE_UNSUPPORTED: not a format this connector reads (the unified route: JSON only)"),
    500: _refusal("INTERNAL_ERROR: send again later; what was accepted is kept, a re-post is a duplicate"),
}
SIGNED = [{name: [] for name in ("HcpConnector", "HcpTimestamp", "HcpNonce", "HcpSignature")}]

SOURCE_EXAMPLES = {
    "application/json": {
        "schema": {"description": "the source family's own JSON (see connectors/specs/{kind}.json)"},
        "examples": {
            "vertical_system": {
                "summary": "a vertical system, national field names",
                "value": {"params": {"projectNo": "GX2026112700045", "deptCode": "11360704MB1C000102",
                                     "areaCode": "360704", "pf": "1", "satisfaction": "2",
                                     "evalDetail": "ITEM_MATERIALS", "assessTime": "2026-11-28 10:21:33",
                                     "handleTime": "2026-11-27 16:02:11", "assessNumber": "1"}},
            }
        },
    },
    "application/xml": {
        "schema": {"type": "string", "description": "XML, in the charset its declaration or Content-Type names"},
        "example": '<?xml version="1.0" encoding="GBK"?><evaluation><projectNo>GX2026112700046</projectNo>'
        "<satisfaction>5</satisfaction>...</evaluation>",
    },
    "application/x-www-form-urlencoded": {
        "schema": {"type": "string", "description": "a form, e.g. a window device's, percent-encoded GBK"},
        "example": "biz=GX2026112800051&dept=11360704MB1C000102&area=360704000000&key=5&reason=03%2C07"
        "&t=20261128102233&served=20261128100510",
    },
}  # fmt: skip
UNIFIED_EXAMPLE: dict[str, Any] = {
    "source_rating_id": "WEB-2026-0001",
    "case": {"case_no": "GX2026112700045", "service_code": "11360704MB1C000102-4000111000",
             "handled_at": "2026-11-27T16:02:11+08:00"},
    "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
    "channel": "web", "grade": "dissatisfied", "tags": ["ITEM_MATERIALS"], "comment": "材料要求重复提交",
    "rater": {"type": "person", "phone": "13907970001", "real_name": True},
    "rated_at": "2026-11-28T10:21:33+08:00",
}  # fmt: skip
UNIFIED_BODY = {
    "required": True,
    "description": f"One rating, or a list of up to {MAX_ITEMS}; times are ISO 8601 with their offset",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/UnifiedRating"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/UnifiedRating"}, "maxItems": MAX_ITEMS},
                ]
            },
            "examples": {
                "one": {"summary": "one rating", "value": UNIFIED_EXAMPLE},
                "batch": {"summary": "a batch", "value": [UNIFIED_EXAMPLE, {**UNIFIED_EXAMPLE, "source_rating_id":
                          "WEB-2026-0002", "grade": "satisfied", "tags": [], "comment": None}]},
            },
        }
    },
}  # fmt: skip
DESCRIPTION = (
    "Ratings from every source into the hub. Every request is signed by its connector: "
    "`X-Hcp-Signature` = lowercase hex HMAC-SHA256(secret, `{timestamp}\\n{nonce}\\n` + body), with "
    "`X-Hcp-Connector`, `X-Hcp-Timestamp` (unix seconds, within 5 minutes of the hub's clock) and "
    "`X-Hcp-Nonce` (16-128 characters of A-Z a-z 0-9 _ -, used once). See docs/signing.md. "
    f"Bodies up to {MAX_BODY_BYTES} bytes and {MAX_ITEMS} ratings. The answer has one result per item, by "
    "index: 202, or 422 when every item was rejected."
)


# --------------------------------------------------------------------------------------------------
# The routes. One resolver per thread: Powertools keeps the current event on the resolver, and the
# local cloud runs invocations in threads (Lambda runs one at a time per container).


def _build_app() -> APIGatewayRestResolver:
    # debug stays off whatever POWERTOOLS_DEV says: debug mode prints whole events, personal data included
    app = APIGatewayRestResolver(debug=False)

    @app.post(
        "/v1/connectors/<connector_id>/ratings",
        summary="Post ratings in the connector's own format",
        description="The body exactly as the source produces it (JSON, XML or form; the charset from "
        "Content-Type or the XML declaration, else the family's default). X-Hcp-Connector must be the "
        "connector of the path.",
        tags=["ratings"],
        operation_id="postSourceRatings",
        security=SIGNED,
        responses=RESPONSES,
        openapi_extensions={"requestBody": {"required": True, "content": SOURCE_EXAMPLES}},
    )
    def post_source_ratings(connector_id: str) -> Response[IngestAnswer]:
        return _ingest(app, path_connector_id=connector_id)

    @app.post(
        "/v1/ratings",
        summary="Post ratings in the unified JSON",
        description="Any connector may post the unified format; X-Hcp-Connector names it.",
        tags=["ratings"],
        operation_id="postUnifiedRatings",
        security=SIGNED,
        responses=RESPONSES,
        openapi_extensions={"requestBody": UNIFIED_BODY},
    )
    def post_unified_ratings() -> Response[IngestAnswer]:
        return _ingest(app, path_connector_id=None)

    @app.post(
        "/v1/cases",
        summary="Post completed-case notices (办结信息)",
        description="One notice or a list of up to 100 (schemas/case.json). A notice carrying its rating is handled "
        "as that rating; one without opens the rating window (R5) and schedules the SMS reminders (R7) and the "
        "default rating (R6). Signed like ratings.",
        tags=["cases"],
        operation_id="postCaseNotices",
        security=SIGNED,
        responses={**RESPONSES, 202: {"description": "One result per notice, by index (at least one not rejected)",
                                      "content": {"application/json": {"model": CaseAnswer}}},
                   422: {"description": "Every notice was rejected",
                         "content": {"application/json": {"model": CaseAnswer}}}},
    )  # fmt: skip
    def post_cases() -> Response[CaseAnswer]:
        return _cases(app)

    @app.post(
        "/v1/calendar/notices",
        summary="Load a year's holiday notice (operators)",
        description="The State Council's notice for a year the official calendar does not cover, as "
        "schemas/calendar-notice.json. Every rating window counted without it is recomputed. A year the official "
        "calendar covers is refused (NOTICE_REFUSED) unless `?force=true`. Signed by an operator connector.",
        tags=["operators"],
        operation_id="postCalendarNotice",
        security=SIGNED,
        responses={200: {"description": "Loaded; what was recomputed",
                         "content": {"application/json": {"model": CalendarAnswer}}},
                   **{status: RESPONSES[status] for status in (400, 401, 413, 500)},
                   415: _refusal("CONTENT_TYPE_UNSUPPORTED: a notice is JSON"),
                   403: _refusal("CONNECTOR_DISABLED, or OPERATOR_ONLY: not an operator credential"),
                   422: _refusal("NOTICE_INVALID (one error per problem of the file), FIELD_UNKNOWN (at its path) "
                                 "or NOTICE_REFUSED")},
    )  # fmt: skip
    def post_calendar_notice() -> Response[CalendarAnswer]:
        return _calendar_notice(app)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        metrics.add_metric(name="DocsRequests", unit=MetricUnit.Count, value=1)
        return Response(200, "application/json", openapi_document(app, _base_path(app)))

    @app.get("/docs", include_in_schema=False, compress=True)
    def swagger_ui() -> Response[str]:
        metrics.add_metric(name="DocsRequests", unit=MetricUnit.Count, value=1)
        return Response(200, "text/html; charset=utf-8", _swagger_html(openapi_document(app, _base_path(app))))

    @app.not_found
    def not_found(exc: Exception) -> Response[RefusalAnswer]:
        event = app.current_event
        return _refused(404, [problem("ROUTE_UNKNOWN", "", f"{event.http_method} {event.path}")], None)

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[RefusalAnswer]:
        request_id = _request_id(app)
        # the type and the frames, not the message: a message may quote a value from the body
        logger.error(
            "unexpected error",
            extra={"error": type(exc).__name__, "where": traceback.format_tb(exc.__traceback__)[-4:],
                   "detail": str(exc) if isinstance(exc, MissingSettings) else None},
        )  # fmt: skip
        metrics.add_metric(name="IngestErrors", unit=MetricUnit.Count, value=1)
        refusal = problem("INTERNAL_ERROR", "", f"request {request_id}", detail_zh=f"请求编号 {request_id}")
        return _reply(500, {"errors": [refusal.as_dict()]})

    return app


def _ingest(app: APIGatewayRestResolver, *, path_connector_id: str | None) -> Response[IngestAnswer]:
    event = app.current_event
    services: IngestServices = app.context["services"]()
    try:
        body = _body(event.raw_event)
    except _BadBody as exc:
        return _refused(exc.status, [exc.problem], path_connector_id)
    headers = {name.lower(): value for name, value in (event.raw_event.get("headers") or {}).items()}
    now = current_clock().now()
    try:
        # Freshness and replay are about transport, so they use the wall clock even where the local
        # cloud has moved the business clock (`hcp clock set`); in production the two are the same.
        connector = verify(
            headers, body, connectors=services.connectors, nonces=services.nonces,
            now=datetime.now(UTC), path_connector_id=path_connector_id,
        )  # fmt: skip
    except AuthRefused as exc:
        metrics.add_metric(name="RequestsUnauthorized", unit=MetricUnit.Count, value=1)
        return _refused(exc.status, exc.problems, path_connector_id)
    if path_connector_id is None:
        adapter = _adapter("unified", None)
    else:
        adapter = _adapter(connector.kind, connector.settings, connector.spec)
    try:
        report = services.service.ingest(connector, adapter, body, headers.get("content-type"), _request_id(app), now)
    except Refused as exc:
        status = max((_STATUS_OF_CODE.get(p.code, 400) for p in exc.problems), default=400)
        return _refused(status, exc.problems, connector.connector_id)
    counts = report.counts()
    for outcome, name in _OUTCOME_METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts.get(outcome, 0))
    if report.not_queued:
        metrics.add_metric(name="RatingsLeftForSweep", unit=MetricUnit.Count, value=len(report.not_queued))
    logger.info(
        "ingested",
        extra={
            "connector_id": connector.connector_id,
            "raw_ref": report.raw_ref,
            "counts": counts,
            "items": [[r.index, r.outcome, r.rating_id, [p.code for p in r.errors]] for r in report.results],
            "not_queued": list(report.not_queued),
        },
    )
    # every item refused: a 4xx, so a single bad rating reads as an error; the body is the same shape
    status = 422 if counts and set(counts) == {"rejected"} else 202
    return _reply(status, report.as_dict())


def _signed(app: APIGatewayRestResolver) -> tuple[Any, bytes] | Response:
    """The connector that signed the request and the body, or the refusal to answer with."""
    event = app.current_event
    services: IngestServices = app.context["services"]()
    try:
        body = _body(event.raw_event)
    except _BadBody as exc:
        return _refused(exc.status, [exc.problem], None)
    headers = {name.lower(): value for name, value in (event.raw_event.get("headers") or {}).items()}
    try:
        connector = verify(headers, body, connectors=services.connectors, nonces=services.nonces, now=datetime.now(UTC))
    except AuthRefused as exc:
        metrics.add_metric(name="RequestsUnauthorized", unit=MetricUnit.Count, value=1)
        return _refused(exc.status, exc.problems, None)
    return connector, body


def _cases(app: APIGatewayRestResolver) -> Response[CaseAnswer]:
    signed = _signed(app)
    if isinstance(signed, Response):
        return signed
    connector, body = signed
    cases: CaseServices = app.context["cases"]()
    content_type = {k.lower(): v for k, v in (app.current_event.raw_event.get("headers") or {}).items()}.get(
        "content-type"
    )
    try:
        report = cases.intake.receive(connector, body, content_type, _request_id(app), current_clock().now())
    except Refused as exc:
        status = max((_STATUS_OF_CODE.get(p.code, 400) for p in exc.problems), default=400)
        return _refused(status, exc.problems, connector.connector_id)
    counts, warnings = report.counts(), report.warnings()
    for outcome in ("accepted", "duplicate", "rejected"):
        metrics.add_metric(name=f"CaseNotices_{outcome}", unit=MetricUnit.Count, value=counts.get(outcome, 0))
    for code, count in warnings.items():
        metrics.add_metric(name=f"CaseNoticeWarnings_{code}", unit=MetricUnit.Count, value=count)
    logger.info(
        "case notices",
        extra={
            "connector_id": connector.connector_id, "raw_ref": report.raw_ref, "counts": counts,
            "warnings": warnings, "not_queued": list(report.not_queued),
            "items": [[r.index, r.outcome, [p.code for p in r.errors]] for r in report.results],
        },
    )  # fmt: skip
    status = 422 if counts and set(counts) == {"rejected"} else 202
    return _reply(status, report.as_dict())


def _calendar_notice(app: APIGatewayRestResolver) -> Response[CalendarAnswer]:
    signed = _signed(app)
    if isinstance(signed, Response):
        return signed
    connector, body = signed
    if connector.kind != OPERATOR_KIND:
        only = problem("OPERATOR_ONLY", "", "load a calendar notice", detail_zh="加载节假日安排通知")
        return _refused(403, [only], connector.connector_id)
    content_type = header(app.current_event.raw_event, "content-type")
    if not is_json(content_type):
        mime = (content_type or "").split(";", 1)[0].strip()[:60]
        zh = f"{mime}；通知须为 JSON"
        refusal = problem("CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; a notice is JSON", detail_zh=zh)
        return _refused(415, [refusal], connector.connector_id)
    force = app.current_event.get_query_string_value("force", "").lower() in ("1", "true", "yes")
    cases: CaseServices = app.context["cases"]()
    try:
        report = cases.calendar.load(
            body, force=force, now=current_clock().now(), origin="the notice", limit=RECOMPUTE_IN_REQUEST
        )
    except Refused as exc:
        status = 400 if any(p.code.startswith("BODY_") for p in exc.problems) else 422
        return _refused(status, exc.problems, connector.connector_id)
    metrics.add_metric(name="CalendarNoticesLoaded", unit=MetricUnit.Count, value=1)
    logger.info(
        "calendar notice loaded",
        extra={"connector_id": connector.connector_id, "year": report.notice.year, "forced": force,
               "recomputed": len(report.recomputed), "remaining": report.remaining},
    )  # fmt: skip
    return _reply(200, report.as_dict())


def _adapter(kind: str, settings: Any, spec: str | None = None) -> Any:
    """One cache for every spec, a family's or a registered connector's (the registry's dry-run shares it)."""
    from connectors.registry import compiled

    return compiled(kind, settings if kind != "unified" else None, spec)


def _refused(status: int, problems: list[Problem], connector_id: str | None) -> Response:
    logger.info(
        "refused",
        extra={"status": status, "connector_id": connector_id, "codes": [p.code for p in problems]},
    )
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return _reply(status, {"errors": [p.as_dict() for p in problems]})


# --------------------------------------------------------------------------------------------------
# The OpenAPI document: Powertools describes the routes; the unified rating's schema comes from the
# hub's model. Built on first request and kept.

_documents: dict[str, str] = {}


def _base_path(app: APIGatewayRestResolver) -> str:
    """As Powertools' Swagger route works it out: the stage, when the path carries it."""
    context = app.current_event.request_context
    stage = context.stage
    return f"/{stage}" if stage and stage != "$default" and context.path.startswith(f"/{stage}") else ""


def openapi_document(app: APIGatewayRestResolver, base_path: str = "") -> str:
    """The whole hub's API (every function's routes merged with ingest's), built when first asked for."""
    document = _documents.get(base_path)
    if document is None:
        from functions.openapi_doc import merged

        document = _documents[base_path] = merged(json.loads(_openapi(app, base_path)), base_path)
    return document


def _openapi(app: APIGatewayRestResolver, base_path: str) -> str:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    from hub.rating import RatingBody

    def header(name: str, description: str) -> APIKey:
        return APIKey.model_validate(
            {"type": "apiKey", "in": APIKeyIn.header, "name": name, "description": description}
        )

    schemes = dict(zip(("HcpConnector", "HcpTimestamp", "HcpNonce", "HcpSignature"), (
        header(HEADERS[0], "the connector's id"),
        header(HEADERS[1], "unix seconds; within 5 minutes of the hub's clock"),
        header(HEADERS[2], "16-128 characters of A-Z a-z 0-9 _ -, never used twice"),
        header(HEADERS[3], "lowercase hex HMAC-SHA256(secret, timestamp + '\\n' + nonce + '\\n' + body)"),
    ), strict=True))  # fmt: skip
    document = json.loads(
        app.get_openapi_json_schema(
            title="hcp-hub ingest API",
            version="1",
            description=DESCRIPTION,
            servers=[Server(url=base_path or "/")],
            security_schemes=schemes,  # type: ignore[arg-type]
        )
    )
    unified = RatingBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(unified.pop("$defs", {}))
    unified["title"] = "UnifiedRating"
    unified["description"] = (
        "A rating in the hub's own field names, with the source's id for it. target.level is derived from "
        "region_code (R3); rating_id and source are assigned by the hub."
    )
    unified["properties"] = {
        "source_rating_id": {"type": "string", "minLength": 1, "description": "the rating's id at the source"},
        **unified["properties"],
    }
    unified["required"] = ["source_rating_id", *unified.get("required", [])]
    schemas["UnifiedRating"] = unified
    return json.dumps(document, ensure_ascii=False, indent=2)


def _swagger_html(document: str) -> str:
    from pathlib import Path

    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    folder = Path(swagger_ui.__file__).parent
    js = (folder / "swagger-ui-bundle.min.js").read_text("utf-8")
    css = (folder / "swagger-ui.min.css").read_text("utf-8")
    return swagger_ui.generate_swagger_html(document.replace("</", "<\\/"), js, css, "", None)


# --------------------------------------------------------------------------------------------------
# The handler


def _tracing_on() -> bool:
    """Where Powertools' Tracer would record: in Lambda, not disabled. Elsewhere it is not even built,
    since importing the X-Ray SDK costs ~250 ms (it creates an X-Ray client at import).
    """
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true", "yes", "on")
    local = os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE")
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not disabled and not local


def make_handler(
    build: Callable[[], IngestServices], build_cases: Callable[[], CaseServices] | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler over the services `build` (and `build_cases`, for the case and calendar routes) make
    on first use (tests pass fakes or moto)."""
    services = bootstrap.BuiltOnce(build, [*IngestSettings.variables(), "CALENDAR_TABLE", "POWERTOOLS_TRACE_DISABLED"])
    cases = bootstrap.BuiltOnce(build_cases or bootstrap.cases_from_env, CaseSettings.variables())
    local = threading.local()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        app = getattr(local, "app", None)
        if app is None:
            app = local.app = _build_app()
        app.append_context(services=services, cases=cases)
        return app.resolve(event, context)

    handler = metrics.log_metrics(capture_cold_start_metric=True)(handler)
    handler = logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
    )(handler)
    if _tracing_on():
        from aws_lambda_powertools import Tracer

        # the response holds error messages that may quote values: not recorded
        handler = Tracer().capture_lambda_handler(capture_response=False)(handler)
    return handler


handler = make_handler(bootstrap.ingest_from_env)
