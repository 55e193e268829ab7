"""The reporting function: the ratings' and work orders' change streams into the report rollups (R19).

Each record's old and new image become reporting facts (infra.rollup_store), their difference the counter
deltas (hub.reports.cells), applied in one transaction with the record's marker, so a re-delivered record
counts once. A record that fails is reported alone (partial batch response) and retried by the stream.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.edge.telemetry import logger, metrics
from hub.reports.cells import RollupChange, order_change, rating_change
from hub.reports.rollups import RollupService
from infra import bootstrap
from infra.rollup_store import order_facts_of_image, rating_facts_of_image, rollup_store_from_env
from infra.settings import ReportingSettings

_service = bootstrap.BuiltOnce(lambda: RollupService(rollup_store_from_env()), ReportingSettings.variables())


def _change(raw: dict[str, Any], event_id: str | None) -> RollupChange | None:
    """A stream record's change (None: case slots, look-ups, outbox items: the template's filters keep them out)."""
    old, new = raw.get("OldImage"), raw.get("NewImage")
    sort_key = raw.get("Keys", {}).get("sk", {}).get("S")
    change_id = event_id or raw["SequenceNumber"]
    if sort_key == "RATING":
        return rating_change(change_id, rating_facts_of_image(old), rating_facts_of_image(new))
    if sort_key == "ORDER":
        return order_change(change_id, order_facts_of_image(old), order_facts_of_image(new))
    return None


def record_handler(record: DynamoDBRecord) -> None:
    change = _change(record.raw_event["dynamodb"], record.event_id)
    if change is None:
        return
    applied = _service().apply(change)
    if applied.again:
        metrics.add_metric(name="RollupChangeRedelivered", unit=MetricUnit.Count, value=1)
    elif applied.items:
        metrics.add_metric(name="RollupItemsWritten", unit=MetricUnit.Count, value=applied.items)


def _together(records: list[dict[str, Any]]) -> bool:
    """The batch's changes in as few transactions as fit (issue 15: a batch of ratings of one agency writes its
    cells once). False, and nothing lost, if a record cannot be read or a marker shows a re-delivery: the records
    are then applied one by one, as before, the ones applied here meeting their markers."""
    try:
        changes = [c for r in records if (c := _change(r["dynamodb"], r.get("eventID"))) is not None]
        applied = _service().applied_together(changes)
    except Exception:
        logger.warning("a stream batch taken record by record", exc_info=True)
        return False
    if applied is None:
        return False
    written = sum(a.items for a in applied)
    if written:
        metrics.add_metric(name="RollupItemsWritten", unit=MetricUnit.Count, value=written)
    return True


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if _together(event.get("Records") or []):
        return {"batchItemFailures": []}
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
