"""The account function: `GET /v1/me` answers who the bearer of an ID token is, in which role and scope.

An integrator checks a token with it before calling the routes people use. The token is verified by
the hub's Lambda authorizer (`PeopleAuthorizer` in template.yaml, functions/authorizer.py; the local
cloud invokes it as API Gateway does) for whichever OIDC issuer the stack names, which hands the person
over in `requestContext.authorizer` (sub, username, roles, agency_code, region_code); nothing here
checks signatures.

`principal_of(app)` and `denied(exc)` are the helpers every function with people's routes uses:

    try:
        principal = principal_of(app)
        principal.require(principal.may_manage_connector(owner_agency=agency), "manage this connector")
    except AccessDenied as exc:
        return denied(exc)
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.telemetry import Handler, logger, metrics
from hub.access import AGENCY_CLAIM, GROUPS_CLAIM, REGION_CLAIM, AccessDenied, Principal, principal_from_claims
from hub.errors import problem

JSON = "application/json; charset=utf-8"
# Log the principal's ids and scope (`Principal.as_log()`), never a name, phone or token.


def claims_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """The person the hub's authorizer put into a REST proxy event (its context, whatever the issuer
    called the claims), under the names `hub.access` reads; None without one. A Cognito user pool
    authorizer's `claims` (a stack that keeps one) already carry those names."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if isinstance(authorizer.get("claims"), dict):
        return dict(authorizer["claims"])
    if not authorizer.get("sub"):
        return None
    return {"sub": authorizer["sub"], "username": authorizer.get("username") or "",
            GROUPS_CLAIM: authorizer.get("roles") or "", AGENCY_CLAIM: authorizer.get("agency_code") or "",
            REGION_CLAIM: authorizer.get("region_code") or ""}  # fmt: skip


def principal_of(resolver: APIGatewayRestResolver) -> Principal:
    """The signed-in person of the request `resolver` is handling; `AccessDenied` (401/403) otherwise."""
    return principal_from_claims(claims_of(resolver.current_event.raw_event))


def denied(exc: AccessDenied) -> Response[str]:
    """A refusal of a person in the hub's error shape, with the status the refusal carries (401 or 403)."""
    path = "Authorization" if exc.status == 401 else ""
    body = {"errors": [problem(exc.code, path, exc.detail, detail_zh=exc.detail_zh).as_dict()]}
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return Response(exc.status, JSON, json.dumps(body, ensure_ascii=False, separators=(",", ":")), headers=headers)


def _build_app() -> APIGatewayRestResolver:
    from functions.edge.api import share_error_handlers
    from functions.http import reply

    app = APIGatewayRestResolver(debug=False)

    @app.get("/v1/me")
    def me() -> Response[str]:
        metrics.add_metric(name="AccountRequests", unit=MetricUnit.Count, value=1)
        principal = principal_of(app)
        answer = {
            "username": principal.username,
            **principal.as_log(),
            "sees_everything": principal.sees_everything,
            "sees_personal_data": principal.sees_personal_data,
        }
        logger.info("who am i", extra={"principal": principal.as_log()})
        return reply(200, answer)

    share_error_handlers(app, metric="AccountErrors")
    return app


def make_handler() -> Handler:
    """The account function has no services: the person is in the event."""
    from functions.edge.api import api_handler

    return api_handler(_build_app)


handler = make_handler()
