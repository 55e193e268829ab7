"""The sweep: re-queue ratings stored but not forwarded, so a crash between store and queue loses nothing; and
relay again the work-order outbox entries still owed (a lost relay, a province down past the queue's patience)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from infra import bootstrap
from infra.clock import current_clock
from infra.settings import ForwardSettings, MissingSettings, OutboxSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")


_services = bootstrap.BuiltOnce(bootstrap.forward_from_env, ForwardSettings.variables())
_outbox = bootstrap.BuiltOnce(bootstrap.outbox_from_env, OutboxSettings.variables())


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    now = current_clock().now()
    requeued = _services().forward.sweep(now, remaining_ms=getattr(context, "get_remaining_time_in_millis", None))
    if requeued:
        logger.warning("re-queued ratings stored but not forwarded", count=len(requeued))
    metrics.add_metric(name="SweepRequeued", unit=MetricUnit.Count, value=len(requeued))
    try:
        relayed = _outbox().relay.sweep(now)
    except MissingSettings as missing:  # a stack without work orders
        logger.warning("work-order outbox skipped", extra={"missing": missing.names})
        relayed = Counter()
    if relayed:
        logger.info("work-order outbox relayed", extra={"counts": dict(relayed)})
    metrics.add_metric(name="OutboxRelayed", unit=MetricUnit.Count, value=sum(relayed.values()))
    return {"requeued": len(requeued), **{f"outbox_{k}": v for k, v in relayed.items()}}
