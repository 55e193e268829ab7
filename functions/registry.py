"""The registry function: people (signed in through Cognito) register and manage connectors.

    POST  /v1/connectors                    register: a built-in kind or a spec; 201 with the secret, shown once
    GET   /v1/connectors                    the connectors the person may see
    GET   /v1/connectors/{id}               one connector, never its secret
    PATCH /v1/connectors/{id}               name, scope (agencies, regions), spec or settings
    POST  /v1/connectors/{id}/disable       signed requests refused from now on (403 CONNECTOR_DISABLED)
    POST  /v1/connectors/{id}/rotate        a new secret; the old one signs until ?grace= (default 24h) ends
    POST  /v1/connectors/{id}/dry-run       a payload in the connector's format read as ingest would; kept nowhere

API Gateway's Cognito authorizer checks the token and hands the claims over in the request context
(functions.account.principal_of reads them); this function never verifies tokens. Who may do what is
hub.registry's; this file maps it to HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from functions.account import denied, principal_of
from functions.http import BadBody, body_of, errors, header, json_object, reply, request_id, status_of
from hub.access import AccessDenied, Principal
from hub.errors import Problem, Refused, problem
from hub.ports import ConnectorChanged
from hub.registry import (
    DEFAULT_GRACE,
    ChangeBody,
    Registration,
    RegistrationBody,
    SpecRejected,
    connector_view,
    out_of_scope,
)
from hub.validation import problems_from
from infra import bootstrap
from infra.bootstrap import RegistryServices
from infra.clock import current_clock

# Never log bodies (a dry-run payload carries raters' personal data, R20) nor secrets: ids, roles, codes.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_GRACE = re.compile(r"^([0-9]{1,6})([smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}
KEEP_THE_SECRET = (
    "Keep this secret now: it is shown this once and never again (a lost one is replaced by rotating). "
    "请立即妥善保存该密钥：仅显示这一次，遗失后只能轮换获取新密钥。"
)


def _json_body(app: APIGatewayRestResolver, model: type[BaseModel]) -> dict[str, Any]:
    """The body as `model` (schemas/connector-*.json) takes it: a field it does not have is FIELD_UNKNOWN."""
    data = json_object(app.current_event.raw_event, empty={})
    unknown = [p for p in _validated(model, data) if p.code == "FIELD_UNKNOWN"]
    if unknown:
        raise Refused(unknown)
    return data


def _validated(model: type[BaseModel], data: dict[str, Any]) -> list[Problem]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return problems_from(exc, model=model)
    return []


def _spec_text(value: Any) -> str | None:
    """The spec as its department wrote it (the lines of problems point into it); an object is pretty-printed."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2)
    raise Refused(
        [
            problem(
                "FIELD_INVALID",
                "spec",
                "the spec's text (JSON or YAML), or a JSON object",
                detail_zh="应为接入规范的文本（JSON 或 YAML）或一个 JSON 对象",
            )
        ]
    )


def _spec_name(spec: str | None) -> str | None:
    """A connector registered without a name is called what its spec calls the source."""
    from connectors.spec_loader import SpecInvalid, parse_spec

    if not spec:
        return None
    try:
        loaded = parse_spec(spec).spec
    except SpecInvalid:
        return None  # the registry's own check answers with every problem and its line
    return loaded.name or loaded.kind


def _list(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name) or ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise Refused([problem("FIELD_INVALID", name, "a list", detail_zh="应为列表")])
    return tuple(str(v) for v in value)


def _sample(data: dict[str, Any]) -> bytes | None:
    """`sample_base64` (the bytes as the source sends them, any charset), or `sample` (text or JSON)."""
    if data.get("sample_base64") is not None:
        try:
            return base64.b64decode(str(data["sample_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise Refused(
                [problem("FIELD_INVALID", "sample_base64", "not base64", detail_zh="不是 base64 编码")]
            ) from None
    sample = data.get("sample")
    if sample is None:
        return None
    if isinstance(sample, dict | list):
        return json.dumps(sample, ensure_ascii=False).encode()
    return str(sample).encode(str(data.get("sample_charset") or "utf-8"), errors="strict")


def _grace(text: str | None) -> timedelta:
    if not text:
        return DEFAULT_GRACE
    found = _GRACE.match(text.strip())
    if not found:
        raise Refused(
            [
                problem(
                    "FIELD_INVALID",
                    "grace",
                    f"{text[:20]!r}: a number with s, m, h or d (24h, 0s)",
                    detail_zh=f"{text[:20]!r}：应为数字加单位 s、m、h 或 d（如 24h、0s）",
                )
            ]
        )
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def _dry_run(services: RegistryServices, connector: Any, app: APIGatewayRestResolver) -> dict[str, Any]:
    from connectors.normalize import ItemOutcome, report_of
    from connectors.registry import compiled

    event = app.current_event.raw_event
    body, content_type = body_of(event), header(event, "content-type")
    now = current_clock().now()
    adapter = compiled(connector.kind, connector.settings, connector.spec)
    try:
        outcomes = services.normalize(
            adapter, body, content_type, connector_id=connector.connector_id, received_at=now, now=now
        )
    except Refused as exc:
        return {"outcome": "rejected", "errors": [p.as_dict() for p in exc.problems]}
    checked: list[ItemOutcome] = []
    for item in outcomes:
        rating = item.rating
        foreign = rating and out_of_scope(connector, item.index, rating.target.agency_code, rating.target.region_code)
        checked.append(ItemOutcome(item.index, "rejected", problems=foreign) if foreign else item)
    return report_of(checked)


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    def services() -> RegistryServices:
        return app.context["services"]()

    def now() -> Any:
        return current_clock().now()

    def done(event: str, principal: Principal, connector_id: str, **extra: Any) -> None:
        logger.info(event, extra={"principal": principal.as_log(), "connector_id": connector_id, **extra})
        metrics.add_metric(name=f"Connectors_{event}", unit=MetricUnit.Count, value=1)

    @app.post("/v1/connectors", summary="Register a connector (the secret is in this answer only)", **_DOC[201])
    def register() -> Response[str]:
        principal, data = principal_of(app), _json_body(app, RegistrationBody)
        spec = _spec_text(data.get("spec"))
        request = Registration(
            name=str(data.get("name") or _spec_name(spec) or data.get("kind") or ""),
            kind=data.get("kind"),
            spec=spec,
            settings=data.get("settings") or {},
            owner_agency=data.get("owner_agency"),
            agencies=_list(data, "agencies"),
            regions=_list(data, "regions"),
            department=data.get("department"),
            sample=_sample(data),
            sample_content_type=data.get("sample_content_type"),
        )
        connector, secret, warnings = services().registry.register(principal, request, now())
        done("registered", principal, connector.connector_id, kind=connector.kind)
        return reply(201, {"connector": connector_view(connector), "secret": secret, "note": KEEP_THE_SECRET,
                           "warnings": warnings})  # fmt: skip

    @app.get("/v1/connectors", summary="The connectors you may see", **_DOC[200])
    def list_connectors() -> Response[str]:
        principal = principal_of(app)
        found = services().registry.visible(principal)
        return reply(200, {"connectors": [connector_view(c) for c in found]})

    @app.get("/v1/connectors/<connector_id>", summary="One connector (never its secret)", **_DOC[200])
    def read(connector_id: str) -> Response[str]:
        return reply(200, connector_view(services().registry.read(principal_of(app), connector_id)))

    @app.patch("/v1/connectors/<connector_id>", summary="Change name, scope, spec or settings", **_DOC[200])
    def change(connector_id: str) -> Response[str]:
        principal, data = principal_of(app), _json_body(app, ChangeBody)
        changes = {k: v for k, v in data.items() if k not in ("sample", "sample_base64")}
        if "spec" in changes:
            changes["spec"] = _spec_text(changes["spec"])
        if "sample" in data or "sample_base64" in data:
            changes["sample"] = _sample(data)
        connector = services().registry.change(principal, connector_id, changes, now())
        done("changed", principal, connector_id, fields=sorted(set(changes) - {"sample", "sample_content_type"}))
        return reply(200, connector_view(connector))

    @app.post("/v1/connectors/<connector_id>/disable", summary="Disable a connector", **_DOC[200])
    def disable(connector_id: str) -> Response[str]:
        principal = principal_of(app)
        connector = services().registry.disable(principal, connector_id, now())
        done("disabled", principal, connector_id)
        return reply(200, connector_view(connector))

    @app.post("/v1/connectors/<connector_id>/rotate", summary="Rotate the secret (?grace=24h)", **_DOC[200])
    def rotate(connector_id: str) -> Response[str]:
        principal = principal_of(app)
        grace = _grace(app.current_event.get_query_string_value("grace", ""))
        # the grace period is about transport, like a signature's freshness: the wall clock, never the local
        # cloud's business clock (`hcp clock set`); in production the two are the same
        connector, secret = services().registry.rotate(principal, connector_id, datetime.now(UTC), grace)
        done("rotated", principal, connector_id, grace_seconds=int(grace.total_seconds()))
        view = connector_view(connector)
        return reply(200, {"connector": view, "secret": secret, "note": KEEP_THE_SECRET,
                           "previous_key_valid_until": view["previous_key_valid_until"]})  # fmt: skip

    @app.post("/v1/connectors/<connector_id>/dry-run", summary="Read a payload as ingest would", **_DOC[200])
    def dry_run(connector_id: str) -> Response[str]:
        principal = principal_of(app)
        svc = services()
        connector = svc.registry.managed(principal, connector_id)
        answer = _dry_run(svc, connector, app)
        done("dry_run", principal, connector_id, outcome=answer["outcome"])
        return reply(200, answer)

    @app.get("/v1/connectors/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(200, "application/json", openapi_document(app))

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return errors(404, [problem("ROUTE_UNKNOWN", "", f"{event.http_method} {event.path}")])

    @app.exception_handler(AccessDenied)
    def refused_person(exc: AccessDenied) -> Response[str]:
        logger.info("denied", extra={"status": exc.status, "code": exc.code})
        return denied(exc)

    @app.exception_handler(ConnectorChanged)
    def changed(exc: ConnectorChanged) -> Response[str]:
        return errors(409, [problem("CONNECTOR_CHANGED", "", str(exc)[:64])])

    @app.exception_handler(SpecRejected)
    def spec_rejected(exc: SpecRejected) -> Response[str]:
        logger.info("spec rejected", extra={"codes": [e["code"] for e in exc.errors]})
        return reply(422, {"errors": exc.errors, "warnings": exc.warnings})

    @app.exception_handler(Refused)
    def refused(exc: Refused) -> Response[str]:
        return _refused(exc.problems)

    @app.exception_handler(BadBody)
    def bad_body(exc: BadBody) -> Response[str]:
        return errors(exc.status, [exc.problem])

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[str]:
        logger.error("unexpected error", extra={"error": type(exc).__name__,
                                                "where": traceback.format_tb(exc.__traceback__)[-4:]})  # fmt: skip
        metrics.add_metric(name="RegistryErrors", unit=MetricUnit.Count, value=1)
        return errors(
            500, [problem("INTERNAL_ERROR", "", f"request {request_id(app)}", detail_zh=f"请求编号 {request_id(app)}")]
        )

    return app


_REFUSALS = {
    400: {
        "description": "BODY_MALFORMED (not JSON, a key twice, not an object), FIELD_INVALID, USCC_INVALID, "
        "SCOPE_INVALID (a region prefix)"
    },
    415: {"description": "CONTENT_TYPE_UNSUPPORTED: the body is JSON"},
    401: {"description": "TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED: sign in"},
    403: {"description": "FORBIDDEN (not yours, or not your role), SCOPE_INVALID (an agency not yours)"},
    404: {"description": "CONNECTOR_NOT_FOUND"},
    409: {"description": "CONNECTOR_CHANGED: changed by someone else meanwhile (two rotations at once); read, retry"},
    422: {
        "description": "SPEC_* (each with line and column), KIND_UNKNOWN, FIELD_UNKNOWN (a field "
        "schemas/connector-registration.json or connector-change.json does not have)"
    },
}
_DOC = {
    status: {"tags": ["registry"], "security": [{"CognitoAuthorizer": []}],
             "responses": {status: {"description": "see docs/connectors.md §11"}, **_REFUSALS}}
    for status in (200, 201)
}  # fmt: skip
_document: list[str] = []


def openapi_document(app: APIGatewayRestResolver) -> str:
    """The registry routes' OpenAPI description, built when first asked for."""
    if not _document:
        from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

        bearer = HTTPBearer(bearerFormat="JWT", description="the Cognito ID token of a person (docs/people.md)")
        _document.append(app.get_openapi_json_schema(
            title="hcp-hub connector registry", version="1", security_schemes={"CognitoAuthorizer": bearer},
            description="Departments register and manage their connectors (docs/connectors.md).",
        ))  # fmt: skip
    return _document[0]


def _refused(problems: list[Problem]) -> Response[str]:
    logger.info("refused", extra={"codes": [p.code for p in problems]})
    return errors(status_of(problems), problems)


def make_handler(build: Callable[[], RegistryServices]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler over the services `build` makes on first use (tests pass fakes or moto)."""
    services = bootstrap.BuiltOnce(build, ["CONNECTORS_TABLE", "CALENDAR_TABLE"])
    local = threading.local()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        app = getattr(local, "app", None)
        if app is None:
            app = local.app = _build_app()
        app.append_context(services=services)
        return app.resolve(event, context)

    handler = metrics.log_metrics(capture_cold_start_metric=True)(handler)
    return logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
    )(handler)


handler = make_handler(lambda: bootstrap.registry_from_env())
