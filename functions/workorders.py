"""The work-order function: people read and act on bad-rating work orders (R10-R18), by role and scope.

    GET  /v1/work-orders                 the orders the signed-in person may see; filters, pages
    GET  /v1/work-orders/{id}            one order with its whole history
    POST /v1/work-orders/{id}/actions    one command (hub.workorders's COMMAND_ADAPTER), optional expected_version

Every route is behind API Gateway's Cognito authorizer: the verified claims arrive in the event and
`functions.account.principal_of` turns them into a `Principal`. Roles become work-order actors: a
department acts as the unit for its own agencies' orders, management for the orders its region manages
(R18: a county its townships'), an operator on all; an auditor reads only. The domain decides the rest:
its refusals come back with their code and status (403 role/ownership, 409 state, deadline, version).
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from datetime import date, datetime, time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from functions.account import denied, principal_of
from functions.http import BadBody, json_object
from hub.access import AccessDenied, Principal, PrincipalRole
from hub.calendar import SHANGHAI
from hub.codes import CodeError, check_region_code, check_uscc
from hub.errors import Problem, problem
from hub.validation import detail_zh
from hub.workorders import (
    COMMAND_ADAPTER,
    TRANSITIONS,
    Actor,
    CursorInvalid,
    OrderFilter,
    Role,
    Status,
    VersionConflict,
    WorkOrder,
    WorkOrderError,
)
from infra import bootstrap
from infra.bootstrap import WorkOrderServices
from infra.clock import current_clock
from infra.settings import OutboxSettings, WorkOrderSettings

JSON = "application/json; charset=utf-8"
MAX_PAGE = 100

# Log ids, codes and the principal's scope (`Principal.as_log()`); never bodies: free texts are the unit's.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_services = bootstrap.BuiltOnce(bootstrap.work_orders_from_env, WorkOrderSettings.variables())
_outbox = bootstrap.BuiltOnce(bootstrap.outbox_from_env, OutboxSettings.variables())


class _Refusal(Exception):
    def __init__(self, status: int, *problems: Problem) -> None:
        self.status = status
        self.problems = list(problems)


def _now() -> datetime:
    """The business clock, in Beijing time: what histories and answers show."""
    return current_clock().now().astimezone(SHANGHAI)


def _reply(status: int, data: Any) -> Response[str]:
    return Response(status, JSON, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _errors(status: int, problems: list[Problem]) -> Response[str]:
    return _reply(status, {"errors": [p.as_dict() for p in problems]})


_ERROR = {"description": "refused: `errors`, each with code, path, message, message_zh, rule",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}  # fmt: skip
_ORDER = {"description": "the order with its whole history, its open deadlines and what is overdue now",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkOrder"}}}}  # fmt: skip
_LIST = {"description": "a page of order summaries, newest dispatch first, and the next page's cursor",
         "content": {"application/json": {"schema": {"type": "object", "properties": {
             "items": {"type": "array", "items": {"type": "object"}},
             "next_cursor": {"type": ["string", "null"]}}}}}}  # fmt: skip
_ACTED = {"description": "the order after the action, and the event it recorded",
          "content": {"application/json": {"schema": {"type": "object", "properties": {
              "order": {"$ref": "#/components/schemas/WorkOrder"}, "event": {"type": "object"}}}}}}  # fmt: skip
_COMMAND_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Command"},
    "examples": {
        "classify": {"value": {"action": "classify", "kind": "complex"}},
        "extension": {"value": {"action": "request_extension", "reason": "需协调市级部门调整系统",
                                "until": "2026-10-30", "document_ref": "赣县政务〔2026〕12号", "expected_version": 2}},
        "visit": {"value": {"action": "record_follow_up_visit", "visitor_name": "李专员", "method": "phone",
                            "note": "评价人确认已整改"}},
    }}}}}  # fmt: skip
BEARER = [{"CognitoAuthorizer": []}]


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(debug=False)  # debug prints whole events

    @app.get(
        "/v1/work-orders",
        summary="List the work orders you may see",
        description="A department its agencies' orders; management its region's (a county its townships', R18); "
        "operators and region-less auditors all. Filters: status, overdue=true (a binding deadline has passed), "
        "due_before (ISO time or date), unit (agency code), region (division code); limit (1-100) and cursor.",
        tags=["work orders"],
        operation_id="listWorkOrders",
        security=BEARER,
        responses={200: _LIST, 400: _ERROR, 401: _ERROR, 403: _ERROR, 422: _ERROR},
    )  # fmt: skip
    def list_orders() -> Response[str]:
        return _guarded(app, lambda p: _list(app, p))

    @app.get("/v1/work-orders/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(200, "application/json", openapi_document(app))

    @app.get(
        "/v1/work-orders/<order_id>",
        summary="One work order with its whole history",
        tags=["work orders"],
        operation_id="getWorkOrder",
        security=BEARER,
        responses={200: _ORDER, 401: _ERROR, 403: _ERROR, 404: _ERROR},
    )
    def get_order(order_id: str) -> Response[str]:
        return _guarded(app, lambda p: _reply(200, _view(_visible(p, order_id), _now())))

    @app.post(
        "/v1/work-orders/<order_id>/actions",
        summary="Act on a work order",
        description="One command, e.g. {\"action\": \"classify\", \"kind\": \"simple\"}, {\"action\": "
        "\"request_extension\", \"reason\": ..., \"until\": \"2026-10-30\"}; `expected_version` (optional) refuses "
        "the action if the order changed since it was read (409 VERSION_CONFLICT).",
        tags=["work orders"],
        operation_id="actOnWorkOrder",
        security=BEARER,
        responses={200: _ACTED, 400: _ERROR, 401: _ERROR, 403: _ERROR, 404: _ERROR, 409: _ERROR, 422: _ERROR},
        openapi_extensions=_COMMAND_BODY,
    )  # fmt: skip
    def act(order_id: str) -> Response[str]:
        return _guarded(app, lambda p: _act(app, p, order_id))

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return _errors(404, [problem("ROUTE_UNKNOWN", "", f"{event.http_method} {event.path}")])

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[str]:
        logger.error("unexpected error", extra={"error": type(exc).__name__,
                                                "where": traceback.format_tb(exc.__traceback__)[-4:]})  # fmt: skip
        metrics.add_metric(name="WorkOrderErrors", unit=MetricUnit.Count, value=1)
        return _errors(500, [problem("INTERNAL_ERROR", "", "work orders", detail_zh="工单")])

    return app


def _guarded(app: APIGatewayRestResolver, run: Any) -> Response[str]:
    try:
        principal = principal_of(app)
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code})
        return denied(exc)
    app.append_context(principal=principal)
    try:
        return run(principal)  # type: ignore[no-any-return]
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code, "principal": principal.as_log()})
        return denied(exc)
    except _Refusal as exc:
        logger.info("refused", extra={"codes": [p.code for p in exc.problems], "principal": principal.as_log()})
        return _errors(exc.status, exc.problems)


# --------------------------------------------------------------------------------------------------
# Reading


def _store() -> Any:
    services: WorkOrderServices = _services()
    return services.store


def _visible(principal: Principal, order_id: str) -> WorkOrder:
    order = _store().get(order_id)
    if order is None:
        raise _Refusal(404, problem("WORK_ORDER_UNKNOWN", "order_id", order_id))
    principal.require(
        principal.may_see(agency_code=order.unit.agency_code, region_code=order.unit.region_code),
        f"see work order {order_id}",
        f"查看工单 {order_id}",
    )
    return order


def _summary(order: WorkOrder, now: datetime) -> dict[str, Any]:
    deadlines = order.open_deadlines()
    return {
        "id": order.id,
        "rating_id": order.rating_id,
        "version": order.version,
        "status": order.status.value,
        "kind": order.kind.value if order.kind else None,
        "grade": order.grade.value,
        "real_name": order.real_name,
        "case_no": order.case_no,
        "service_name": order.service_name,
        "unit": order.unit.model_dump(mode="json"),
        "managing_department": order.managing_department.model_dump(mode="json"),
        "dispatched_at": order.dispatched_at.isoformat(),
        "deadlines": {kind.value: limit.at.isoformat() for kind, limit in deadlines.items()},
        "overdue": [check.deadline.value for check in order.overdue_checks(now)],
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }


def _view(order: WorkOrder, now: datetime) -> dict[str, Any]:
    return {
        **order.model_dump(mode="json"),
        "open_deadlines": {k.value: v.model_dump(mode="json") for k, v in order.open_deadlines().items()},
        "overdue": [check.deadline.value for check in order.overdue_checks(now)],
    }


def _query(app: APIGatewayRestResolver, name: str) -> str | None:
    value = app.current_event.get_query_string_value(name, "")
    return (value.strip() or None) if value is not None else None


def _list(app: APIGatewayRestResolver, principal: Principal) -> Response[str]:
    now = _now()
    problems: list[Problem] = []
    status = _parsed(problems, "status", _query(app, "status"), Status)
    unit = _parsed(problems, "unit", _query(app, "unit"), check_uscc)
    region = _parsed(problems, "region", _query(app, "region"), check_region_code)
    due_before = _parsed(problems, "due_before", _query(app, "due_before"), _moment)
    limit = _parsed(problems, "limit", _query(app, "limit"), _page_size) or 50
    overdue = (_query(app, "overdue") or "").lower() in ("1", "true", "yes")
    if problems:
        raise _Refusal(422, *problems)
    filters = OrderFilter(
        agencies=_agencies(principal, unit),
        region=_region(principal, region),
        status=status,
        due_before=due_before,
        overdue_at=now if overdue else None,
    )
    try:
        page = _store().list(filters, limit=limit, cursor=_query(app, "cursor"))
        orders, cursor = page.orders, page.cursor
    except CursorInvalid:
        raise _Refusal(
            400, problem("CURSOR_INVALID", "cursor", "start again without it", detail_zh="请去掉 cursor 重新查询")
        ) from None
    metrics.add_metric(name="WorkOrderLists", unit=MetricUnit.Count, value=1)
    logger.info("listed", extra={"principal": principal.as_log(), "count": len(orders)})
    return _reply(200, {"items": [_summary(o, now) for o in orders], "next_cursor": cursor})


def _agencies(principal: Principal, unit: str | None) -> tuple[str, ...]:
    if unit is not None:
        principal.require(principal.may_ask_for(agency=unit), f"list the orders of {unit}", f"查看单位 {unit} 的工单")
        return (unit,)
    if principal.role is PrincipalRole.DEPARTMENT:
        return tuple(sorted(principal.agency_codes))
    return ()


def _region(principal: Principal, region: str | None) -> str | None:
    """The asked region, inside the person's own; a region-scoped person is kept to theirs."""
    if region is not None:
        inside = principal.role is PrincipalRole.DEPARTMENT or principal.sees_everything or principal.in_region(region)
        principal.require(
            inside and principal.may_ask_for(region=region), f"list the orders of region {region}",
            f"查看地区 {region} 的工单",
        )  # fmt: skip
        return region
    if principal.sees_everything or principal.role is PrincipalRole.DEPARTMENT:
        return None
    return principal.region_code


def _parsed(problems: list[Problem], name: str, value: str | None, parse: Any) -> Any:
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, CodeError) as exc:
        zh = getattr(exc, "detail_zh", None) or "取值无法识别"
        problems.append(problem("FIELD_INVALID", name, str(getattr(exc, "detail", "") or exc)[:200], detail_zh=zh))
        return None


def _moment(text: str) -> datetime:
    """An ISO time with its offset, or a date: the end of that day in Beijing."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=SHANGHAI)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time needs its UTC offset")
    return moment


def _page_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_PAGE:
        raise ValueError(f"between 1 and {MAX_PAGE}")
    return size


# --------------------------------------------------------------------------------------------------
# Acting


def _actor(principal: Principal, order: WorkOrder) -> Actor:
    if principal.role is PrincipalRole.DEPARTMENT:
        principal.require(
            order.unit.agency_code in principal.agency_codes, f"act on work order {order.id}", f"办理工单 {order.id}"
        )
        return Actor(role=Role.UNIT, id=principal.subject, agency_code=order.unit.agency_code)
    if principal.role is PrincipalRole.MANAGEMENT:
        return Actor(role=Role.MANAGEMENT, id=principal.subject, region_code=principal.region_code)
    if principal.role is PrincipalRole.OPERATOR:
        return Actor(role=Role.OPERATOR, id=principal.subject)
    raise AccessDenied("FORBIDDEN", "act on work orders: the auditor role reads only",
                       detail_zh="办理工单：审计角色只读")  # fmt: skip


def _command(event: dict[str, Any]) -> tuple[Any, int | None]:
    try:
        data = json_object(event, "a JSON object with an action")
    except BadBody as exc:
        raise _Refusal(exc.status, exc.problem) from None
    expected = data.pop("expected_version", None)
    problems: list[Problem] = []
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 1):
        problems.append(
            problem("FIELD_INVALID", "expected_version", "a version number, from 1", detail_zh="应为从 1 起的版本号")
        )
    try:
        command = COMMAND_ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems.extend(_field_problems(exc))
        command = None
    if problems:
        raise _Refusal(422, *problems)
    return command, expected


def _field_problems(exc: ValidationError) -> list[Problem]:
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        # the union's tag (e.g. "send_reply") is in the location; the body's field path is what helps
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 1 and loc[0] in TRANSITIONS:
            loc = loc[1:]
        path = ".".join(loc) or "action"
        kind = error["type"]
        if kind == "missing":
            found.append(problem("FIELD_REQUIRED", path))
        elif kind == "extra_forbidden":
            found.append(problem("FIELD_UNKNOWN", path))
        elif kind == "PERSONAL_DATA_IN_TEXT":
            found.append(problem("PERSONAL_DATA_IN_TEXT", path, error["msg"], detail_zh=path))
        else:
            found.append(problem("FIELD_INVALID", path, error["msg"], detail_zh=detail_zh(error, "FIELD_INVALID", "")))
    return found


def _act(app: APIGatewayRestResolver, principal: Principal, order_id: str) -> Response[str]:
    command, expected = _command(app.current_event.raw_event)
    order = _visible(principal, order_id)
    actor = _actor(principal, order)
    services: WorkOrderServices = _services()
    try:
        if expected is not None and expected != order.version:
            raise VersionConflict(order.id, expected, order.version)
        transition = order.handle(command, by=actor, at=_now(), calendar=services.calendars())
        services.store.save(transition.order, expected_version=order.version)
    except WorkOrderError as exc:
        metrics.add_metric(name="WorkOrderActionsRefused", unit=MetricUnit.Count, value=1)
        logger.info("action refused", extra={"order_id": order_id, "action": command.action, "code": exc.code,
                                             "principal": principal.as_log()})  # fmt: skip
        return _errors(exc.http_status, [exc.as_problem("action" if exc.http_status == 409 else "")])
    metrics.add_metric(name=f"WorkOrderAction_{command.action}", unit=MetricUnit.Count, value=1)
    _relay(transition.order, order.version)
    logger.info("acted", extra={"order_id": order_id, "action": command.action, "version": transition.order.version,
                                "principal": principal.as_log()})  # fmt: skip
    return _reply(200, {"order": _view(transition.order, _now()),
                        "event": transition.event.model_dump(mode="json")})  # fmt: skip


def _relay(order: WorkOrder, after_version: int) -> None:
    """The action's notices and provincial outcome go out now rather than on the scheduler's next minute.

    Best effort: the events are in the outbox with the order, so when this fails the scheduler and the
    sweep relay them; the person's action has succeeded either way.
    """
    try:
        counts = _outbox().relay.relay_new(order, after_version)
    except Exception as exc:  # owed events stay in the outbox
        logger.warning(
            "relay after action failed; the scheduler relays", extra={"order_id": order.id, "error": type(exc).__name__}
        )
        return
    if counts:
        logger.info("relayed", extra={"order_id": order.id, "counts": dict(counts)})


# --------------------------------------------------------------------------------------------------
# The OpenAPI document of these routes (GET /v1/work-orders/openapi.json), built when first asked for

_document: list[str] = []


def openapi_document(app: APIGatewayRestResolver) -> str:
    if not _document:
        _document.append(_openapi(app))
    return _document[0]


def _openapi(app: APIGatewayRestResolver) -> str:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from hub.workorders import WorkOrder as Order

    bearer = HTTPBearer(bearerFormat="JWT", description="the Cognito ID token of a person (docs/people.md)")
    document = json.loads(
        app.get_openapi_json_schema(
            title="hcp-hub work-order API",
            version="1",
            description="Bad-rating work orders (差评工单, R10-R18): list, read, act, by role and scope. "
            "See docs/workorders.md.",
            security_schemes={"CognitoAuthorizer": bearer},
        )
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    order = Order.model_json_schema(mode="serialization", ref_template=template)
    command = COMMAND_ADAPTER.json_schema(ref_template=template)
    for part in (order, command):
        schemas.update(part.pop("$defs", {}))
    command["description"] = "one command; `expected_version` (optional) alongside its fields"
    schemas["WorkOrder"], schemas["Command"] = order, command
    problem_schema = {"type": "object", "required": ["code", "path", "message", "message_zh"], "properties": {
        name: {"type": "string"} for name in ("code", "path", "message", "message_zh")} | {
        "rule": {"type": ["string", "null"]}}}  # fmt: skip
    schemas["Errors"] = {"type": "object", "properties": {"errors": {"type": "array", "items": problem_schema}}}
    return json.dumps(document, ensure_ascii=False, indent=2)


# --------------------------------------------------------------------------------------------------
# The handler


def make_handler() -> Any:
    local = threading.local()  # one resolver per thread: the local cloud runs invocations in threads

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        app = getattr(local, "app", None)
        if app is None:
            app = local.app = _build_app()
        return app.resolve(event, context)

    handler = metrics.log_metrics(handler)
    return logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
    )(handler)


handler = make_handler()
