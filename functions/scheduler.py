"""The scheduler: fired by a schedule rule, it sends the reminders (R7) and records the default ratings (R6)
that are due — read through the due-time index, never a scan — and recounts windows still provisional for a
year whose notice is now loaded. Then the work orders due (their own due index): the unit's morning reminder
of a deadline, the overdue escalation, provisional deadlines recounted (`hub.workorder_monitor`); and the
work-order notices still owed are published (`OutboxRelay.sweep`, notices only: outcomes are the sweep's).

Thin: the work is `hub.scheduler.CaseScheduler`. Logs and metrics carry counts and codes, never a phone
number, a name or a message text (R20).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from infra import bootstrap
from infra.clock import current_clock
from infra.settings import MissingSettings, OutboxSettings, SchedulerSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")

RECOMPUTE_PER_RUN = 300  # ~40 ms each: a quarter of the timeout at most
TIME_TO_SPARE_MS = 15_000  # stop taking more batches with less than this left of the function's timeout

_services = bootstrap.BuiltOnce(bootstrap.scheduler_from_env, [*SchedulerSettings.variables(), "SMS_GATEWAY_URL"])
_outbox = bootstrap.BuiltOnce(bootstrap.outbox_from_env, OutboxSettings.variables())


def _remaining_ms(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else TIME_TO_SPARE_MS * 2


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    services: bootstrap.SchedulerServices = _services()
    now = current_clock().now()
    calendar = services.calendar.calendar()  # read afresh: a deadline never fires on a stale calendar
    recomputed = services.calendar.recompute_known(calendar, RECOMPUTE_PER_RUN)
    totals: Counter[str] = Counter()
    errors: list[str] = []
    due = 0
    while True:
        report = services.scheduler.run(now, calendar, remaining_ms=lambda: _remaining_ms(context))
        totals.update(report.counts)
        errors.extend(report.errors)
        due += report.due
        if not report.full or _remaining_ms(context) < TIME_TO_SPARE_MS:
            break
    metrics.add_metric(name="TimersDue", unit=MetricUnit.Count, value=due)
    # 1 when the run stopped with a full batch still due (out of time): the scheduler lags (SchedulerLagAlarm)
    metrics.add_metric(name="SchedulerBehind", unit=MetricUnit.Count, value=int(report.full))
    for outcome, count in totals.items():
        metrics.add_metric(name=f"Timers_{outcome.replace(':', '_')}", unit=MetricUnit.Count, value=count)
    if recomputed:
        metrics.add_metric(name="WindowsRecomputed", unit=MetricUnit.Count, value=len(recomputed))
    if errors:  # timer ids and exception types only; retried when their lease ends
        logger.error("timers failed", extra={"errors": errors[:50], "count": len(errors)})
    orders = _check_work_orders(now, calendar, context)
    logger.info(
        "scheduler run", extra={"due": due, "outcomes": dict(totals), "recomputed": len(recomputed), "orders": orders}
    )
    return {"due": due, "outcomes": dict(totals), "recomputed": len(recomputed), "work_orders": orders}


def _check_work_orders(now: Any, calendar: Any, context: Any) -> dict[str, Any]:
    """Deadline checks of the work orders due; counts and order ids only in logs (R20). A deployment without
    the work-order table and topic (an older stack, the case tests) skips them and says so."""
    try:
        outbox: bootstrap.OutboxServices = _outbox()
    except MissingSettings as missing:
        logger.warning("work-order checks skipped", extra={"missing": missing.names})
        return {"skipped": missing.names}
    totals: Counter[str] = Counter()
    errors: list[str] = []
    due = 0
    while True:
        report = outbox.monitor.run(now, calendar)
        totals.update(report.counts)
        errors.extend(report.errors)
        due += report.due
        progressed = any(report.counts[k] for k in ("reminded", "escalated", "recomputed"))
        # a full batch with nothing done is orders that cannot move yet: reading it again would not help
        if not report.full or not progressed or _remaining_ms(context) < TIME_TO_SPARE_MS:
            break
    relayed = outbox.relay.sweep(now, older_than=timedelta(0), notices_only=True)  # every owed notice
    totals.update(f"relay:{k}" for k in relayed.elements())
    metrics.add_metric(name="WorkOrdersDue", unit=MetricUnit.Count, value=due)
    for outcome, count in totals.items():
        metrics.add_metric(name=f"WorkOrders_{outcome.replace(':', '_')}", unit=MetricUnit.Count, value=count)
    if errors:
        logger.error("work-order checks failed", extra={"errors": errors[:50], "count": len(errors)})
    return {"due": due, "outcomes": dict(totals)}
