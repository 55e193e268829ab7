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
from hub.reports.rollups import RollupService
from infra import bootstrap
from infra.rollup_store import order_facts_of_image, rating_facts_of_image, rollup_store_from_env
from infra.settings import ReportingSettings

_service = bootstrap.BuiltOnce(lambda: RollupService(rollup_store_from_env()), ReportingSettings.variables())


def record_handler(record: DynamoDBRecord) -> None:
    raw = record.raw_event["dynamodb"]
    old, new = raw.get("OldImage"), raw.get("NewImage")
    sort_key = raw.get("Keys", {}).get("sk", {}).get("S")
    change_id = record.event_id or raw["SequenceNumber"]
    if sort_key == "RATING":
        applied = _service().rating_changed(change_id, rating_facts_of_image(old), rating_facts_of_image(new))
    elif sort_key == "ORDER":
        applied = _service().order_changed(change_id, order_facts_of_image(old), order_facts_of_image(new))
    else:
        return  # case slots, look-ups, outbox items: the template's filters keep them out in AWS
    if applied.again:
        metrics.add_metric(name="RollupChangeRedelivered", unit=MetricUnit.Count, value=1)
    elif applied.items:
        metrics.add_metric(name="RollupItemsWritten", unit=MetricUnit.Count, value=applied.items)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
