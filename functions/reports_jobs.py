"""The reports function's two scheduled halves (infra/reports/jobs.py): the schedule rules' run, which lists the
period's reports and queues one job each on ReportsQueue, and the queue's batches, each job writing one report
(Powertools BatchProcessor: a job that fails is reported alone and comes back; after three, ReportsDeadLetterQueue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.edge.telemetry import Handler, entry, logger, metrics
from hub.reports.document import PeriodKind
from infra.bootstrap import ReportServices
from infra.reports.jobs import job_target
from infra.reports.service import Generation

KINDS = (PeriodKind.WEEK.value, PeriodKind.MONTH.value)


def generated(message: str, kind: str, done: Generation) -> None:
    logger.info(message, extra={"kind": kind, "period": done.period, "objects": len(done.keys), "queued": done.queued})
    if done.queued:
        metrics.add_metric(name="ReportJobsQueued", unit=MetricUnit.Count, value=done.queued)
    else:
        metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=len(done.keys))


def scheduled_kind(event: dict[str, Any]) -> PeriodKind:
    """The rule's input names the kind; without one (a rule fired by hand), the rule's name does."""
    if event.get("kind") in KINDS:
        return PeriodKind(event["kind"])
    return PeriodKind.WEEK if "week" in " ".join(event.get("resources") or []).lower() else PeriodKind.MONTH


def is_sqs(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and records[0].get("eventSource") == "aws:sqs"


def schedule_handlers(services: Callable[[], ReportServices]) -> tuple[Handler, Handler]:
    """(the schedule rules' handler, the queue's handler) over the services."""

    def scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
        kind, built = scheduled_kind(event), services()
        done = built.reports.generate(kind, built.clock.now())
        generated("scheduled reports queued" if done.queued else "scheduled reports written", kind.value, done)
        return {"kind": kind.value, "period": done.period, "queued": done.queued, "objects": len(done.keys)}

    def write_one(record: SQSRecord) -> None:
        built = services()
        target = job_target(record.body)
        keys = built.reports.write(target, built.clock.now())
        logger.info("report written", extra={"period": target.period.key, "scope": target.scope_key,
                                             "audience": target.audience.value, "objects": len(keys)})  # fmt: skip
        metrics.add_metric(name="ReportsGenerated", unit=MetricUnit.Count, value=len(keys))

    def jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
        processor = BatchProcessor(event_type=EventType.SQS)
        return dict(process_partial_response(event=event, record_handler=write_one, processor=processor,
                                             context=context))  # fmt: skip

    return entry(scheduled), entry(jobs)
