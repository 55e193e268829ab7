"""The sweep: re-queue ratings stored but not forwarded, so a crash between store and queue loses nothing; and
relay again the work-order outbox entries still owed (a lost relay, a province down past the queue's patience)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.telemetry import Handler, entry, logger, metrics
from infra import bootstrap
from infra.bootstrap import ForwardServices, OutboxServices
from infra.settings import MissingSettings


def make_handler(
    build: Callable[[], ForwardServices] = bootstrap.forward_from_env,
    outbox: Callable[[], OutboxServices] = bootstrap.outbox_from_env,
) -> Handler:
    """A Lambda handler over the services `build` and `outbox` make on first use (tests pass moto, and a clock)."""
    services, orders = bootstrap.BuiltOnce(build), bootstrap.BuiltOnce(outbox)

    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        forwarding = services()
        now = forwarding.clock.now()
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        requeued = forwarding.forward.sweep(now, remaining_ms=remaining)
        if requeued:
            logger.warning("re-queued ratings stored but not forwarded", count=len(requeued))
        metrics.add_metric(name="SweepRequeued", unit=MetricUnit.Count, value=len(requeued))
        try:
            relayed = orders().relay.sweep(now, remaining_ms=remaining)
        except MissingSettings as missing:  # a stack without work orders
            logger.warning("work-order outbox skipped", extra={"missing": missing.names})
            relayed = Counter()
        if relayed:
            logger.info("work-order outbox relayed", extra={"counts": dict(relayed)})
        metrics.add_metric(name="OutboxRelayed", unit=MetricUnit.Count, value=sum(relayed.values()))
        return {"requeued": len(requeued), **{f"outbox_{k}": v for k, v in relayed.items()}}

    return entry(handler)


handler = make_handler()
