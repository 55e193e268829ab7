"""The scheduler: fired by a schedule rule, it sends the reminders (R7) and records the default ratings (R6)
that are due — read through the due-time index, never a scan — and recounts windows still provisional for a
year whose notice is now loaded. Then the work orders due (their own due index): the unit's morning reminder
of a deadline, the overdue escalation, provisional deadlines recounted (`hub.workorders.monitor`); and the
work-order notices still owed are published (`OutboxRelay.sweep`, notices only: outcomes are the sweep's).

Thin: the work is `hub.scheduler.CaseScheduler`. Logs and metrics carry counts and codes, never a phone
number, a name or a message text (R20).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.drain import drain, remaining_ms
from functions.edge.telemetry import Handler, entry, logger, metrics
from infra import bootstrap
from infra.bootstrap import OutboxServices, SchedulerServices
from infra.settings import MissingSettings

if TYPE_CHECKING:
    from hub.calendar import WorkingDayCalendar

RECOMPUTE_PER_RUN = 300  # ~40 ms each: a quarter of the timeout at most
TIME_TO_SPARE_MS = 15_000  # no step starts an item (a timer, an order, a notice) with less than this left
RECOMPUTE_SPARE_MS = 40_000  # the recompute, first, stops with less than this left: the reminders' time (R7)
MOVES = ("reminded", "escalated", "recomputed")  # what a work-order batch did, when it did something


def make_handler(
    build: Callable[[], SchedulerServices] = bootstrap.scheduler_from_env,
    outbox: Callable[[], OutboxServices] = bootstrap.outbox_from_env,
) -> Handler:
    """A Lambda handler over the services `build` and `outbox` make on first use (tests pass moto, and a clock)."""
    services, orders = bootstrap.BuiltOnce(build), bootstrap.BuiltOnce(outbox)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return _run(services(), orders, context)

    return entry(handler)


def _run(services: SchedulerServices, outbox: Callable[[], OutboxServices], context: Any) -> dict[str, Any]:
    """Each step within the invocation's time left, checked before every item it takes on (a window, a timer, an
    order, a notice) and before every index read: when store calls turn slow (throttling, retries), the run stops
    with `TIME_TO_SPARE_MS` to spare and what it did not reach is still due for the next run (issue 16)."""
    now = services.clock.now()

    def left() -> int:
        return remaining_ms(context, TIME_TO_SPARE_MS * 2)

    calendar = services.calendar.calendar()  # read afresh: a deadline never fires on a stale calendar
    recomputed = services.calendar.recompute_known(calendar, RECOMPUTE_PER_RUN, remaining_ms=left,
                                                   spare_ms=RECOMPUTE_SPARE_MS)  # fmt: skip
    timers = drain(lambda: services.scheduler.run(now, calendar, remaining_ms=left), context, spare_ms=TIME_TO_SPARE_MS)
    metrics.add_metric(name="TimersDue", unit=MetricUnit.Count, value=timers.due)
    # 1 when the run stopped with a full batch still due (out of time): the scheduler lags (SchedulerLagAlarm)
    metrics.add_metric(name="SchedulerBehind", unit=MetricUnit.Count, value=int(timers.behind))
    for outcome, count in timers.counts.items():
        metrics.add_metric(name=f"Timers_{outcome.replace(':', '_')}", unit=MetricUnit.Count, value=count)
    if recomputed:
        metrics.add_metric(name="WindowsRecomputed", unit=MetricUnit.Count, value=len(recomputed))
    if timers.errors:  # timer ids and exception types only; retried when their lease ends
        logger.error("timers failed", extra={"errors": timers.errors[:50], "count": len(timers.errors)})
    orders = _check_work_orders(outbox, now, calendar, context)
    answer = {"due": timers.due, "outcomes": dict(timers.counts), "recomputed": len(recomputed)}
    logger.info("scheduler run", extra={**answer, "orders": orders})
    return {**answer, "work_orders": orders}


def _check_work_orders(
    outbox: Callable[[], OutboxServices], now: datetime, calendar: WorkingDayCalendar, context: Any
) -> dict[str, Any]:
    """Deadline checks of the work orders due; counts and order ids only in logs (R20). A deployment without
    the work-order table and topic (an older stack, the case tests) skips them and says so."""
    try:
        services = outbox()
    except MissingSettings as missing:
        logger.warning("work-order checks skipped", extra={"missing": missing.names})
        return {"skipped": missing.names}

    # a full batch with nothing done is orders that cannot move yet: reading it again would not help
    def left() -> int:
        return remaining_ms(context, TIME_TO_SPARE_MS * 2)

    orders = drain(lambda: services.monitor.run(now, calendar, remaining_ms=left, spare_ms=TIME_TO_SPARE_MS),
                   context, spare_ms=TIME_TO_SPARE_MS,
                   worth_more=lambda batch: any(batch.counts.get(k, 0) for k in MOVES))  # fmt: skip
    # every owed notice, within the time left
    relayed = services.relay.sweep(now, older_than=timedelta(0), notices_only=True, remaining_ms=left,
                                   spare_ms=TIME_TO_SPARE_MS)  # fmt: skip
    orders.counts.update(f"relay:{k}" for k in relayed.elements())
    metrics.add_metric(name="WorkOrdersDue", unit=MetricUnit.Count, value=orders.due)
    for outcome, count in orders.counts.items():
        metrics.add_metric(name=f"WorkOrders_{outcome.replace(':', '_')}", unit=MetricUnit.Count, value=count)
    if orders.errors:
        logger.error("work-order checks failed", extra={"errors": orders.errors[:50], "count": len(orders.errors)})
    return {"due": orders.due, "outcomes": dict(orders.counts)}


handler = make_handler()
