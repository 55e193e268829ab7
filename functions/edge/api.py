"""The API functions' handler factory and the error handlers they share.

Every refusal is `{"errors": [problem, ...]}` (hub.errors): a stable code, the field's path, English and
Chinese messages. A person refused is 401/403 (`functions.account.denied`), a body refused 400/413/415, an
unknown field 422, an unknown route 404; anything unexpected 500 INTERNAL_ERROR with the request id,
logged by type and frames only (a message may quote a value from the body, R20).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.telemetry import Handler, entry, logger, metrics
from functions.http import BadBody, errors, request_id, status_of
from hub.access import AccessDenied
from hub.errors import Problem, Refused, problem
from infra.settings import MissingSettings


def api_handler(build_app: Callable[[], APIGatewayRestResolver], *, traced: bool = False, **context: Any) -> Handler:
    """A Lambda handler resolving with a router `build_app` makes, one per thread (the local cloud runs
    invocations in threads; Lambda, one at a time), with `context` (services built once:
    `infra.bootstrap.BuiltOnce`) in `app.context`.

    Powertools 3.37 keeps the current event and Lambda context on its `BaseRouter` class, shared by every
    resolver of the process: two threads' requests read the later one's event (its headers, body, nonce).
    Each thread's resolver gets its own as instance attributes, which every read (`app.current_event`,
    Powertools' own `self.current_event`) finds first."""
    local = threading.local()

    def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        app = getattr(local, "app", None)
        if app is None:
            app = local.app = build_app()
        app.current_event = app._to_proxy_event(event)
        app.lambda_context = lambda_context
        app.append_context(**context)
        return app.resolve(event, lambda_context)

    return entry(handler, rest_api=True, traced=traced)


def refused(status: int, problems: list[Problem], **ids: Any) -> Response[str]:
    """A refusal, logged by its codes (and the ids given), counted."""
    logger.info("refused", extra={"status": status, **ids, "codes": [p.code for p in problems]})
    metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
    return errors(status, problems)


def internal_error(app: APIGatewayRestResolver, exc: Exception, metric: str) -> Response[str]:
    """500 INTERNAL_ERROR with the request id; the type and the frames logged, not the message."""
    rid = request_id(app)
    logger.error(
        "unexpected error",
        extra={"error": type(exc).__name__, "where": traceback.format_tb(exc.__traceback__)[-4:],
               "detail": str(exc) if isinstance(exc, MissingSettings) else None},
    )  # fmt: skip
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return errors(500, [problem("INTERNAL_ERROR", "", f"request {rid}", detail_zh=f"请求编号 {rid}")])


def share_error_handlers(app: APIGatewayRestResolver, *, metric: str) -> None:
    """The handlers every API router registers: unknown route, person refused, body or request refused,
    anything unexpected (counted as `metric`)."""
    from functions.account import denied

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        event = app.current_event
        return refused(404, [problem("ROUTE_UNKNOWN", "", f"{event.http_method} {event.path}")])

    @app.exception_handler(AccessDenied)
    def person_refused(exc: AccessDenied) -> Response[str]:
        logger.info("denied", extra={"status": exc.status, "code": exc.code})
        return denied(exc)

    @app.exception_handler(BadBody)
    def bad_body(exc: BadBody) -> Response[str]:
        return refused(exc.status, [exc.problem])

    @app.exception_handler(Refused)
    def request_refused(exc: Refused) -> Response[str]:
        return refused(status_of(exc.problems), exc.problems)

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[str]:
        return internal_error(app, exc, metric)
