"""The work-order function: people read and act on bad-rating work orders (R10-R18), by role and scope.

    GET  /v1/work-orders                 the orders the signed-in person may see; filters, pages
    GET  /v1/work-orders/{id}            one order with its whole history
    POST /v1/work-orders/{id}/actions    one command (hub.workorders' COMMAND_ADAPTER), optional expected_version

The authorizer's verified claims arrive in the event (`functions.account.principal_of`); the desk
(`hub.workorders.desk`, built by `infra.bootstrap.work_orders_from_env` with the clock it reads) does the rest,
the role-and-scope policy being `hub.access`'s. This parses the event, calls the desk and shapes the reply.
Logs carry ids, codes and the principal's scope (`Principal.as_log()`); never bodies: free texts are the unit's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.account import principal_of
from functions.edge.api import api_handler, share_error_handlers
from functions.edge.telemetry import Handler, logger, metrics
from functions.http import BadBody, errors, json_object, reply
from functions.workorders_openapi import ACT_ROUTE, GET_ROUTE, LIST_ROUTE, openapi_document
from hub.access import Principal
from hub.calendar import SHANGHAI
from hub.workorders import DeskRefusal, WorkOrderDesk
from infra import bootstrap
from infra.bootstrap import WorkOrderServices

__all__ = ["handler", "make_handler", "openapi_document"]


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(debug=False)  # debug prints whole events

    def desk() -> WorkOrderDesk:
        return _services(app).desk

    def now() -> datetime:
        """The business clock, in Beijing time: what histories and answers show."""
        return _services(app).clock.now().astimezone(SHANGHAI)

    def signed_in() -> Principal:
        principal = principal_of(app)
        app.append_context(principal=principal)
        return principal

    @app.get("/v1/work-orders", **LIST_ROUTE)
    def list_orders() -> Response[str]:
        principal = signed_in()
        answer = desk().list(principal, app.current_event.query_string_parameters or {}, now())
        metrics.add_metric(name="WorkOrderLists", unit=MetricUnit.Count, value=1)
        logger.info("listed", extra={"principal": principal.as_log(), "count": len(answer["items"])})
        return reply(200, answer)

    @app.get("/v1/work-orders/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        return Response(200, "application/json", openapi_document(app))

    @app.get("/v1/work-orders/<order_id>", **GET_ROUTE)
    def get_order(order_id: str) -> Response[str]:
        return reply(200, desk().show(signed_in(), order_id, now()))

    @app.post("/v1/work-orders/<order_id>/actions", **ACT_ROUTE)
    def act(order_id: str) -> Response[str]:
        principal = signed_in()
        app.append_context(order_id=order_id)
        try:
            body = json_object(app.current_event.raw_event, "a JSON object with an action")
        except BadBody as exc:
            raise DeskRefusal(exc.status, exc.problem) from None
        acted = desk().act(principal, order_id, body, now())
        metrics.add_metric(name=f"WorkOrderAction_{acted.action}", unit=MetricUnit.Count, value=1)
        if acted.relay_failed:  # the events are in the outbox with the order: the scheduler and the sweep relay them
            logger.warning("relay after action failed; the scheduler relays",
                           extra={"order_id": order_id, "error": acted.relay_failed})  # fmt: skip
        logger.info("acted", extra={"order_id": order_id, "action": acted.action, "version": acted.order.version,
                                    "relayed": dict(acted.relayed), "principal": principal.as_log()})  # fmt: skip
        return reply(200, acted.as_dict(now()))

    @app.exception_handler(DeskRefusal)
    def desk_refused(exc: DeskRefusal) -> Response[str]:
        if exc.action is not None:
            metrics.add_metric(name="WorkOrderActionsRefused", unit=MetricUnit.Count, value=1)
        principal = app.context.get("principal")
        logger.info("refused", extra={"codes": [p.code for p in exc.problems], "action": exc.action,
                                      "order_id": app.context.get("order_id"),
                                      "principal": principal.as_log() if principal else None})  # fmt: skip
        return errors(exc.status, exc.problems)

    share_error_handlers(app, metric="WorkOrderErrors")  # 404, 401/403, a body refused, 500
    return app


def _services(app: APIGatewayRestResolver) -> WorkOrderServices:
    services: WorkOrderServices = app.context["services"]()
    return services


def make_handler(build: Callable[[], WorkOrderServices] = bootstrap.work_orders_from_env) -> Handler:
    """A Lambda handler over the services `build` makes on first use (tests pass moto, and their own clock)."""
    return api_handler(_build_app, services=bootstrap.BuiltOnce(build))


handler = make_handler()
