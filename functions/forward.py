"""The forward function: queued rating ids to the provincial system, partial batch failures reported.

A batch's records are sent concurrently (`FORWARD_CONCURRENCY` at a time, threads: the sends wait on the
network), each within the invocation's remaining time less a margin (`infra.province.client.send_deadline`),
and what has not finished by then is reported as a batch item failure before Lambda would stop the
invocation — so an invocation never runs past its timeout, and no record comes back with its receive count
raised for a batch that was abandoned. See docs/forwarding.md for the throughput this gives.

Per record: send the stored rating under its one idempotency key and record the receipt (R9). The
province refusing a rating parks it with the reason. A send that did not get through is recorded on the
rating (attempts, when, when the next is due: `hub.forwarding.ForwardService.forward`) and the message
comes back after a backoff that grows with the rating's own attempts; the sweep leaves it alone meanwhile.
Only failures the province gave count towards the dead-letter queue (`MAX_FAILURES`); a province slow or
away is retried however long it lasts, and a message that has been received nearly `FORWARD_MAX_RECEIVES`
times (the queue's maxReceiveCount, a backstop for crashes) is queued afresh rather than dead-lettered.

The queue's second message type, `{"outcome": "<order id>#<version>"}`, is a work-order event the province
tracks (the reply, the rectification, a not-adopted decision, the follow-up satisfaction; R14, R16, R17):
`hub.outcomes.OutcomeDelivery` sends it under that key, publishes its notices, and only then marks its
outbox entry done — retried with the same backoff (by receive count: it has no rating to count on).

Idempotency is the province's contract, not a second table: every send carries the rating's one key
(`evalId` = rating_id), the province answers a repeat with the original receipt, and a rating already
marked forwarded is not sent again. Powertools Idempotency here would add two DynamoDB writes per
rating to guard a case (one message delivered twice at the same moment) the key already makes harmless.
"""

from __future__ import annotations

import contextvars
import json
import os
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hub.forwarding import BACKOFF_BASE_SECONDS, ProvinceUnreachable, RetryLater, backoff_seconds
from infra import bootstrap
from infra.clock import current_clock
from infra.forward_queue import SqsForwardQueue
from infra.province.client import send_deadline
from infra.settings import ForwardSettings, OutboxSettings

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "hcp-hub")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "HcpHub")
_local = threading.local()  # one BatchProcessor per thread: it keeps the batch's state while it runs
DEFAULT_CONCURRENCY = 10
SAFETY_MARGIN_MS = 3000  # what the invocation keeps for reporting and deleting once the sends stop


class Unfinished(Exception):
    """The record's work had not finished when the invocation's time ran out: it comes back from the queue."""


def _build() -> bootstrap.ForwardServices:
    """Built on the first invocation: a missing variable is named then, not at import."""
    return bootstrap.forward_from_env()


_services = bootstrap.BuiltOnce(
    _build, [*ForwardSettings.variables(), "PROVINCE_READ_TIMEOUT", "PROVINCE_CONNECT_TIMEOUT", "FORWARD_DLQ_URL",
             "FORWARD_CONCURRENCY"]
)  # fmt: skip


_outbox = bootstrap.BuiltOnce(
    partial(bootstrap.outbox_from_env, province=True),
    [*OutboxSettings.variables(), "PROVINCE_URL", "PROVINCE_SECRET_ARN", "PROVINCE_OUTCOME_URL"],
)


def _queue() -> SqsForwardQueue:
    services = _services()
    queue = getattr(services.forward, "queue", None)
    if isinstance(queue, SqsForwardQueue):
        return queue
    return SqsForwardQueue(services.sqs, services.settings.forward_queue_url)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


def retry_delay(attempt: int) -> int:
    base = float(os.environ.get("FORWARD_RETRY_BASE_SECONDS") or BACKOFF_BASE_SECONDS)
    return backoff_seconds(attempt, base, jitter=random.uniform(0.8, 1.2))  # jitter, not crypto


def _come_back(record: SQSRecord, delay: int, *, counted: bool) -> bool:
    """The message comes back after `delay`. Near the redrive policy's maxReceiveCount (a backstop for
    crashes) a copy starts afresh instead, unless the failures were counted ones: returns True when the
    record is thereby done (a fresh copy is queued)."""
    receives = int(record.attributes.approximate_receive_count or 1)
    limit = _env_int("FORWARD_MAX_RECEIVES", 0)
    if limit and receives >= limit - 1 and not counted:
        _queue().requeue(record.body, delay)
        return True
    _queue().retry_later(record.receipt_handle, delay)
    return False


def _deliver_outcome(record: SQSRecord, key: str) -> str:
    try:
        return _outbox().delivery.deliver_queued(json.loads(record.body), retry_in=retry_delay)  # own attempt count
    except ProvinceUnreachable as exc:
        attempt = int(record.attributes.approximate_receive_count or 1)
        if _come_back(record, retry_delay(attempt), counted=exc.counted):
            return "requeued"
        raise RetryLater(retry_delay(attempt), attempt, 0, str(exc), status=exc.status) from exc


def work(record: SQSRecord) -> str:
    """One record's work, in a pool thread: no metrics here (Powertools' are not thread-safe), only the outcome."""
    body = json.loads(record.body)
    if "outcome" in body:
        return "outcome_" + _deliver_outcome(record, body["outcome"])
    try:
        return _services().forward.forward(body["rating_id"], current_clock().now(), retry_in=retry_delay)
    except RetryLater as retry:
        if _come_back(record, retry.delay, counted=retry.counted):
            return "requeued"
        raise


def _run(record: dict[str, Any], deadline: float) -> str:
    if time.monotonic() >= deadline:
        raise Unfinished("no time left before it started")
    with send_deadline(deadline):
        return work(SQSRecord(record))


def record_handler(record: SQSRecord, futures: dict[str, Future[str]] | None = None) -> str:
    """Reports, in the invocation's thread, what the pool did for this record (or does it, without a pool)."""
    ids = {"rating_id": json.loads(record.body).get("rating_id")} if '"rating_id"' in record.body else {}
    future = futures.get(record.message_id) if futures is not None else None
    try:
        if future is None:
            outcome = work(record)
        elif not future.done():
            future.cancel()
            raise Unfinished("the invocation's time ran out first")
        else:
            outcome = future.result()
    except RetryLater as retry:
        logger.warning("province unreachable", **ids, attempt=retry.attempt, failures=retry.failures,
                       retry_in=retry.delay, reason=retry.reason)  # fmt: skip
        metrics.add_metric(name="ForwardRetries", unit=MetricUnit.Count, value=1)
        raise
    except Unfinished:
        logger.warning("unfinished when the invocation's time ran out; it comes back from the queue", **ids)
        metrics.add_metric(name="ForwardUnfinished", unit=MetricUnit.Count, value=1)
        raise
    if outcome == "dead_lettered":
        logger.error("dead-lettered after failures the province gave", **ids)
    elif outcome == "outcome_refused":  # the province judged it and said no: an operator looks
        logger.warning("work-order outcome refused by the province", outcome_key=json.loads(record.body)["outcome"])
    else:
        logger.info("forwarded", **ids, outcome=outcome)
    metrics.add_metric(name=f"Forward_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    processor = getattr(_local, "processor", None)
    if processor is None:  # Lambda runs one batch at a time per container; the local cloud, one per poller
        processor = _local.processor = BatchProcessor(event_type=EventType.SQS)
    records = event.get("Records") or []
    margin = _env_int("FORWARD_SAFETY_MARGIN_MS", SAFETY_MARGIN_MS)
    remaining = getattr(context, "get_remaining_time_in_millis", None)  # Lambda's context always has it
    remaining_ms = remaining() if callable(remaining) else 60_000
    deadline = time.monotonic() + max(0, remaining_ms - margin) / 1000
    workers = max(1, min(_env_int("FORWARD_CONCURRENCY", DEFAULT_CONCURRENCY), len(records)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forward")
    try:
        # Each send carries the invocation's context (a copy per thread): what the invocation set, such as the
        # local cloud's note of which function is calling under which role, holds in the pool too.
        futures = {r["messageId"]: pool.submit(contextvars.copy_context().run, _run, r, deadline) for r in records}
        wait_for(list(futures.values()), timeout=max(0.0, deadline - time.monotonic()))
        # BatchProcessor shapes the partial-failure answer from what each record's future holds
        return process_partial_response(
            event=event, record_handler=partial(record_handler, futures=futures), processor=processor, context=context
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a send still running ends by its own deadline
