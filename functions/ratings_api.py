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

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import principal_of
from functions.edge.api import api_handler, share_error_handlers
from functions.edge.telemetry import Handler, logger, metrics
from functions.http import errors, json_object, reply, request_id
from hub.errors import problem, unknown_field
from hub.rating_reads import AuditUnavailable, ListRequest
from infra import bootstrap
from infra.bootstrap import RatingReadServices

MAX_LOOKUP_BODY = 4096
Read = Callable[..., dict[str, Any]]


def _answer(app: APIGatewayRestResolver, action: str, read: Read, **request: Any) -> Response[str]:
    """`read(principal, **request, now=..., request_id=...)`, logged and counted; a rating unknown is 404, the
    audit log unwritable 503 (nothing is answered in clear without its audit record, R20)."""
    principal = principal_of(app)
    services: RatingReadServices = app.context["services"]()
    try:
        answer = read(services.reads, principal, **request, now=services.clock.now(), request_id=request_id(app))
    except LookupError:
        return errors(404, [problem("RATING_NOT_FOUND", "rating_id", app.current_event.path.rsplit("/", 1)[-1])])
    except AuditUnavailable as exc:
        logger.error("audit write failed; nothing returned", extra={"reason": str(exc), "action": action})
        metrics.add_metric(name="AuditWriteFailed", unit=MetricUnit.Count, value=1)
        return errors(503, [problem("AUDIT_UNAVAILABLE", "")])
    shown = answer.get("ratings")
    count = len(shown) if isinstance(shown, list) else 1
    logger.info("ratings read", extra={"principal": principal.as_log(), "action": action,
                                       "masked": answer.get("masked"), "count": count})  # fmt: skip
    metrics.add_metric(name="RatingsRead", unit=MetricUnit.Count, value=count)
    if not answer.get("masked"):
        metrics.add_metric(name="UnmaskedReads", unit=MetricUnit.Count, value=1)
    return reply(200, answer)


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(debug=False)  # debug prints whole events

    @app.get("/v1/ratings")
    def list_ratings() -> Response[str]:
        params = app.current_event.query_string_parameters or {}
        request = ListRequest(
            agency=params.get("agency"), region=params.get("region"), start=params.get("from"), end=params.get("to"),
            grade=params.get("grade"), connector=params.get("connector"),
            include_not_adopted=params.get("include_not_adopted"), unmasked=params.get("unmasked"),
            limit=params.get("limit"), cursor=params.get("cursor"),
        )  # fmt: skip
        return _answer(app, "list", lambda reads, who, **kw: reads.list(who, request, **kw))

    @app.get("/v1/ratings/<rating_id>")
    def get_rating(rating_id: str) -> Response[str]:
        unmasked = (app.current_event.query_string_parameters or {}).get("unmasked")
        return _answer(app, "get", lambda reads, who, **kw: reads.get(who, rating_id, unmasked=unmasked, **kw))

    @app.post("/v1/ratings/lookup")
    def lookup() -> Response[str]:
        shape = 'a JSON object {"phone": ...} or {"id_no": ...}'
        event = app.current_event.raw_event
        if len(event.get("body") or "") > 2 * MAX_LOOKUP_BODY:
            return errors(400, [problem("BODY_MALFORMED", "", shape)])
        body = json_object(event, shape)
        unknown = [unknown_field(key) for key in body if key not in ("phone", "id_no")]
        if unknown:
            return errors(422, unknown)
        if not all(isinstance(body.get(k, ""), str) for k in ("phone", "id_no")):
            return errors(400, [problem("BODY_MALFORMED", "", shape)])
        found = {"phone": body.get("phone") or None, "id_no": body.get("id_no") or None}
        return _answer(app, "lookup", lambda reads, who, **kw: reads.lookup(who, **kw), **found)

    share_error_handlers(app, metric="RatingReadErrors")
    return app


def make_handler(build: Callable[[], RatingReadServices] = bootstrap.rating_reads_from_env) -> Handler:
    """A Lambda handler over the services `build` makes on first use (tests pass moto, and their own clock)."""
    return api_handler(_build_app, services=bootstrap.BuiltOnce(build))


handler = make_handler()
