"""The ratings query function: signed-in people read ratings in their scope (R20).

    GET  /v1/ratings               agency, region (a code or digits prefix), from, to, grade, connector,
                                   include_not_adopted, limit (1-100), cursor; newest first
    GET  /v1/ratings/{rating_id}   one rating
    POST /v1/ratings/lookup        the auditor's look-up by {"phone"} or {"id_no"} (POST: never in a URL)

Every route declares `Auth: {Authorizer: CognitoAuthorizer}`: API Gateway checked the token, the claims
are in the event. Personal data is masked except to the auditor (`?unmasked=true` by another role is
PERSONAL_DATA_FORBIDDEN), whose every read in clear is written to the audit log before it is answered.
Logs carry the principal's ids, counts and codes, never a rating's personal data or a query's phone.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import denied, principal_of
from functions.http import BadBody, json_object
from hub.access import AccessDenied
from hub.errors import Problem, Refused, problem, unknown_field
from hub.rating_reads import AuditUnavailable, ListRequest
from infra import bootstrap
from infra.clock import current_clock
from infra.settings import MissingSettings, RatingReadSettings

JSON = "application/json; charset=utf-8"
MAX_LOOKUP_BODY = 4096

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
app = APIGatewayRestResolver()
reads = bootstrap.BuiltOnce(
    bootstrap.rating_reads_from_env,
    [*RatingReadSettings.variables(), "DATA_KEY_ID", "PERSONAL_DATA_ALGORITHM", "LOOKUP_KEY_SECRET_ARN"],
)


def _reply(status: int, data: Any) -> Response[str]:
    return Response(status, JSON, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _errors(status: int, problems: list[Problem]) -> Response[str]:
    return _reply(status, {"errors": [p.as_dict() for p in problems]})


def _request_id() -> str:
    found = (app.current_event.raw_event.get("requestContext") or {}).get("requestId")
    return str(found or getattr(app.lambda_context, "aws_request_id", None) or uuid.uuid4())


def _answer(action: str, read: Any) -> Response[str]:
    """Runs `read(principal, now, request_id)`, mapping every refusal to its status."""
    try:
        principal = principal_of(app)
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code})
        return denied(exc)
    request_id = _request_id()
    try:
        answer = read(principal, current_clock().now(), request_id)
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code, "principal": principal.as_log(), "action": action})
        return denied(exc)
    except Refused as exc:
        return _errors(400, exc.problems)
    except LookupError:
        return _errors(404, [problem("RATING_NOT_FOUND", "rating_id", app.current_event.path.rsplit("/", 1)[-1])])
    except AuditUnavailable as exc:
        logger.error("audit write failed; nothing returned", extra={"reason": str(exc), "action": action})
        metrics.add_metric(name="AuditWriteFailed", unit=MetricUnit.Count, value=1)
        return _errors(503, [problem("AUDIT_UNAVAILABLE", "")])
    except MissingSettings as exc:
        logger.error("misconfigured", extra={"missing": exc.names})
        return _errors(500, [problem("INTERNAL_ERROR", "", request_id)])
    shown = answer.get("ratings")
    logger.info(
        "ratings read",
        extra={"principal": principal.as_log(), "action": action, "masked": answer.get("masked"),
               "count": len(shown) if isinstance(shown, list) else 1},
    )  # fmt: skip
    metrics.add_metric(name="RatingsRead", unit=MetricUnit.Count, value=len(shown) if isinstance(shown, list) else 1)
    if not answer.get("masked"):
        metrics.add_metric(name="UnmaskedReads", unit=MetricUnit.Count, value=1)
    return _reply(200, answer)


@app.get("/v1/ratings")
def list_ratings() -> Response[str]:
    params = app.current_event.query_string_parameters or {}
    request = ListRequest(
        agency=params.get("agency"), region=params.get("region"), start=params.get("from"), end=params.get("to"),
        grade=params.get("grade"), connector=params.get("connector"),
        include_not_adopted=params.get("include_not_adopted"), unmasked=params.get("unmasked"),
        limit=params.get("limit"), cursor=params.get("cursor"),
    )  # fmt: skip
    return _answer("list", lambda who, now, rid: reads().list(who, request, now=now, request_id=rid))


@app.get("/v1/ratings/<rating_id>")
def get_rating(rating_id: str) -> Response[str]:
    unmasked = (app.current_event.query_string_parameters or {}).get("unmasked")
    return _answer("get", lambda who, now, rid: reads().get(who, rating_id, unmasked=unmasked, now=now, request_id=rid))


@app.post("/v1/ratings/lookup")
def lookup() -> Response[str]:
    shape = 'a JSON object {"phone": ...} or {"id_no": ...}'
    event = app.current_event.raw_event
    if len(event.get("body") or "") > 2 * MAX_LOOKUP_BODY:
        return _errors(400, [problem("BODY_MALFORMED", "", shape)])
    try:
        body = json_object(event, shape)
    except BadBody as exc:
        return _errors(exc.status, [exc.problem])
    unknown = [unknown_field(key) for key in body if key not in ("phone", "id_no")]
    if unknown:
        return _errors(422, unknown)
    if not all(isinstance(body.get(k, ""), str) for k in ("phone", "id_no")):
        return _errors(400, [problem("BODY_MALFORMED", "", shape)])
    phone, id_no = body.get("phone") or None, body.get("id_no") or None
    return _answer(
        "lookup", lambda who, now, rid: reads().lookup(who, phone=phone, id_no=id_no, now=now, request_id=rid)
    )


@app.exception_handler(Exception)
def internal_error(exc: Exception) -> Response[str]:
    """Logged by type only: a message of a lower layer could quote a value (R20)."""
    logger.error("failed", extra={"error": type(exc).__name__})
    return _errors(500, [problem("INTERNAL_ERROR", "", _request_id())])


@app.not_found
def not_found(_: Exception) -> Response[str]:
    route = f"{app.current_event.http_method} {app.current_event.path}"
    return _errors(404, [problem("ROUTE_UNKNOWN", "", route)])


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
