"""The work-order function: people read and act on bad-rating work orders (R10-R18), by role and scope.

    GET  /v1/work-orders                 the orders the signed-in person may see; filters, pages
    GET  /v1/work-orders/{id}            one order with its whole history
    POST /v1/work-orders/{id}/actions    one command (hub.workorders' COMMAND_ADAPTER), optional expected_version

The authorizer's verified claims arrive in the event (`functions.account.principal_of`); the desk
(`hub.workorders.desk`) does the rest, the role-and-scope policy being `hub.access`'s. This parses the event,
calls the desk and shapes the reply.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import denied, principal_of
from functions.http import BadBody, errors, json_object, reply
from functions.workorders_openapi import ACT_ROUTE, GET_ROUTE, LIST_ROUTE, openapi_document
from hub.access import AccessDenied, Principal
from hub.calendar import SHANGHAI
from hub.errors import problem
from hub.workorders import DeskRefusal, WorkOrderDesk
from infra import bootstrap
from infra.clock import current_clock
from infra.settings import OutboxSettings, WorkOrderSettings

__all__ = ["handler", "make_handler", "openapi_document"]

# Log ids, codes and the principal's scope (`Principal.as_log()`); never bodies: free texts are the unit's.
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_services = bootstrap.BuiltOnce(bootstrap.work_orders_from_env, WorkOrderSettings.variables())
_outbox = bootstrap.BuiltOnce(bootstrap.outbox_from_env, OutboxSettings.variables())


def _desk() -> WorkOrderDesk:
    services = _services()
    return WorkOrderDesk(services.store, services.calendars, relay=lambda: _outbox().relay)


def _now() -> datetime:
    """The business clock, in Beijing time: what histories and answers show."""
    return current_clock().now().astimezone(SHANGHAI)


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(debug=False)  # debug prints whole events

    @app.get("/v1/work-orders", **LIST_ROUTE)
    def list_orders() -> Response[str]:
        return _guarded(app, lambda p: _listed(app, p))

    @app.get("/v1/work-orders/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(200, "application/json", openapi_document(app))

    @app.get("/v1/work-orders/<order_id>", **GET_ROUTE)
    def get_order(order_id: str) -> Response[str]:
        return _guarded(app, lambda p: reply(200, _desk().show(p, order_id, _now())))

    @app.post("/v1/work-orders/<order_id>/actions", **ACT_ROUTE)
    def act(order_id: str) -> Response[str]:
        return _guarded(app, lambda p: _acted(app, p, order_id))

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return errors(404, [problem("ROUTE_UNKNOWN", "", f"{event.http_method} {event.path}")])

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[str]:
        logger.error("unexpected error", extra={"error": type(exc).__name__,
                                                "where": traceback.format_tb(exc.__traceback__)[-4:]})  # fmt: skip
        metrics.add_metric(name="WorkOrderErrors", unit=MetricUnit.Count, value=1)
        return errors(500, [problem("INTERNAL_ERROR", "", "work orders", detail_zh="工单")])

    return app


def _guarded(app: APIGatewayRestResolver, run: Callable[[Principal], Response[str]]) -> Response[str]:
    try:
        principal = principal_of(app)
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code})
        return denied(exc)
    app.append_context(principal=principal)
    try:
        return run(principal)
    except AccessDenied as exc:
        logger.info("refused", extra={"code": exc.code, "principal": principal.as_log()})
        return denied(exc)
    except DeskRefusal as exc:
        if exc.action is not None:
            metrics.add_metric(name="WorkOrderActionsRefused", unit=MetricUnit.Count, value=1)
        codes = [p.code for p in exc.problems]
        logger.info("refused", extra={"codes": codes, "action": exc.action, "order_id": app.context.get("order_id"),
                                      "principal": principal.as_log()})  # fmt: skip
        return errors(exc.status, exc.problems)


def _listed(app: APIGatewayRestResolver, principal: Principal) -> Response[str]:
    answer = _desk().list(principal, app.current_event.query_string_parameters or {}, _now())
    metrics.add_metric(name="WorkOrderLists", unit=MetricUnit.Count, value=1)
    logger.info("listed", extra={"principal": principal.as_log(), "count": len(answer["items"])})
    return reply(200, answer)


def _acted(app: APIGatewayRestResolver, principal: Principal, order_id: str) -> Response[str]:
    app.append_context(order_id=order_id)
    try:
        body = json_object(app.current_event.raw_event, "a JSON object with an action")
    except BadBody as exc:
        raise DeskRefusal(exc.status, exc.problem) from None
    acted = _desk().act(principal, order_id, body, _now())
    metrics.add_metric(name=f"WorkOrderAction_{acted.action}", unit=MetricUnit.Count, value=1)
    if acted.relay_failed:  # the events are in the outbox with the order: the scheduler and the sweep relay them
        logger.warning("relay after action failed; the scheduler relays",
                       extra={"order_id": order_id, "error": acted.relay_failed})  # fmt: skip
    logger.info("acted", extra={"order_id": order_id, "action": acted.action, "version": acted.order.version,
                                "relayed": dict(acted.relayed), "principal": principal.as_log()})  # fmt: skip
    return reply(200, acted.as_dict(_now()))


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
