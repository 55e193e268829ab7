"""The sweep: re-queue ratings stored but not forwarded, so a crash between store and queue loses nothing."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from infra import bootstrap
from infra.clock import current_clock
from infra.settings import ForwardSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")


_services = bootstrap.BuiltOnce(bootstrap.forward_from_env, ForwardSettings.variables())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    requeued = _services().forward.sweep(current_clock().now())
    if requeued:
        logger.warning("re-queued ratings stored but not forwarded", count=len(requeued))
    metrics.add_metric(name="SweepRequeued", unit=MetricUnit.Count, value=len(requeued))
    return {"requeued": len(requeued)}
