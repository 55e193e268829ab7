"""The forward function: queued rating ids to the provincial system, partial batch failures reported.

Per record: send the stored rating under its one idempotency key and record the receipt (R9). The
province refusing a rating parks it with the reason; the province unreachable fails the record, which
comes back after a backoff that grows with each receive, and after the queue's maxReceiveCount lands in
the dead-letter queue (`hcp dlq redrive` returns it).

The queue's second message type, `{"outcome": "<order id>#<version>"}`, is a work-order event the province
tracks (the reply, the rectification, a not-adopted decision, the follow-up satisfaction; R14, R16, R17):
`hub.outcomes.OutcomeDelivery` sends it under that key, publishes its notices, and only then marks its
outbox entry done — retried with the same backoff, dead-lettered the same way.

Idempotency is the province's contract, not a second table: every send carries the rating's one key
(`evalId` = rating_id), the province answers a repeat with the original receipt, and a rating already
marked forwarded is not sent again. Powertools Idempotency here would add two DynamoDB writes per
rating to guard a case (one message delivered twice at the same moment) the key already makes harmless.
"""

from __future__ import annotations

import json
import os
import random
import threading
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hub.forwarding import ProvinceUnreachable
from infra import bootstrap
from infra.clock import current_clock
from infra.settings import ForwardSettings, OutboxSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_local = threading.local()  # one BatchProcessor per thread: it keeps the batch's state while it runs
MAX_BACKOFF_SECONDS = 900  # SQS's limit is 12 h; a province down for long drains through the DLQ instead


def _build() -> bootstrap.ForwardServices:
    """Built on the first invocation: a missing variable is named then, not at import."""
    return bootstrap.forward_from_env()


_services = bootstrap.BuiltOnce(
    _build, [*ForwardSettings.variables(), "PROVINCE_READ_TIMEOUT", "PROVINCE_CONNECT_TIMEOUT"]
)


_outbox = bootstrap.BuiltOnce(
    partial(bootstrap.outbox_from_env, province=True),
    [*OutboxSettings.variables(), "PROVINCE_URL", "PROVINCE_SECRET_ARN", "PROVINCE_OUTCOME_URL"],
)


def backoff_seconds(receive_count: int) -> int:
    base = float(os.environ.get("FORWARD_RETRY_BASE_SECONDS", "10"))
    delay = base * 2 ** max(receive_count - 1, 0)
    return int(min(MAX_BACKOFF_SECONDS, delay * random.uniform(0.8, 1.2)))  # jitter, not crypto


def _retry_later(record: SQSRecord, exc: ProvinceUnreachable, **ids: str) -> None:
    """The message comes back after a backoff that grows with each receive."""
    services = _services()
    attempt = int(record.attributes.approximate_receive_count or 1)
    delay = backoff_seconds(attempt)
    services.sqs.change_message_visibility(
        QueueUrl=services.settings.forward_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
    )
    logger.warning("province unreachable", **ids, attempt=attempt, retry_in=delay, reason=str(exc))
    metrics.add_metric(name="ForwardRetries", unit=MetricUnit.Count, value=1)


def _deliver_outcome(record: SQSRecord, key: str) -> str:
    try:
        outcome = _outbox().delivery.deliver(key)
    except ProvinceUnreachable as exc:
        _retry_later(record, exc, outcome_key=key)
        raise
    if outcome == "refused":  # the province judged it and said no: an operator looks (the reason may echo data)
        logger.warning("work-order outcome refused by the province", outcome_key=key)
    else:
        logger.info("work-order outcome delivered", outcome_key=key, outcome=outcome)
    metrics.add_metric(name=f"Outcome_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def record_handler(record: SQSRecord) -> str:
    body = json.loads(record.body)
    if "outcome" in body:
        return _deliver_outcome(record, body["outcome"])
    services = _services()
    rating_id = body["rating_id"]
    try:
        outcome = services.forward.forward(rating_id, current_clock().now())
    except ProvinceUnreachable as exc:
        _retry_later(record, exc, rating_id=rating_id)
        raise
    logger.info("forwarded", rating_id=rating_id, outcome=outcome)
    metrics.add_metric(name=f"Forward_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    processor = getattr(_local, "processor", None)
    if processor is None:  # Lambda runs one batch at a time per container; the local cloud, one per poller
        processor = _local.processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
