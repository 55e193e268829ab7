"""One Logger and one Metrics for every function, named by `infra.settings.TelemetrySettings`.

Never log events or bodies: they carry raters' names, phones and ID numbers (R20). Log counts, ids and codes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from functions.edge.emf import emf_metrics
from functions.edge.logformat import FastFormatter
from infra.settings import TelemetrySettings

Handler = Callable[[dict[str, Any], Any], Any]

# A run that had nothing to count is normal (a sweep that found nothing): not a warning in every log.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

SETTINGS = TelemetrySettings.from_env()
logger = Logger(service=SETTINGS.service, logger_formatter=FastFormatter())  # Powertools' lines, less CPU
metrics = emf_metrics(SETTINGS.namespace)  # Powertools' EMF provider, its line written by orjson
TRACED_MODULES = ("botocore",)  # what the X-Ray tracer patches (ingest's AWS calls)


def entry(handler: Handler, *, rest_api: bool = False, metrics_on: bool = True, traced: bool = False) -> Handler:
    """`handler` as Lambda calls it: metrics flushed (with the cold start, for `rest_api`), the invocation's
    context in the logs (and the API request id), never the event; `traced` where the tracer records."""
    if metrics_on:
        handler = metrics.log_metrics(capture_cold_start_metric=rest_api)(handler)
    if rest_api:
        handler = _with_request_id(handler)
    handler = logger.inject_lambda_context(log_event=False, clear_state=rest_api)(handler)
    if traced and SETTINGS.tracing:
        from aws_lambda_powertools import Tracer

        # the response holds error messages that may quote values: not recorded. Only botocore is patched, the
        # one library a traced function (ingest) calls out with: patch_all imports and patches sqlite3, httplib,
        # requests, ... for nothing on every cold start
        tracer = Tracer(patch_modules=TRACED_MODULES)
        handler = tracer.capture_lambda_handler(capture_response=False)(handler)
    return handler


def _with_request_id(handler: Handler) -> Handler:
    """The API request id as the logs' `correlation_id`: what `correlation_paths.API_GATEWAY_REST`
    (`requestContext.requestId`) gives, read directly (Powertools' JMESPath query cost ~8 µs a request)."""

    def with_request_id(event: dict[str, Any], context: Any) -> Any:
        found = event.get("requestContext") if isinstance(event, dict) else None
        logger.set_correlation_id(found.get("requestId") if isinstance(found, dict) else None)
        return handler(event, context)

    return with_request_id
