"""The forward function: queued rating ids to the provincial system, partial batch failures reported.

A batch's records are sent concurrently (threads: the sends wait on the network), each within the invocation's
remaining time less a margin (`infra.province.client.send_deadline`); what has not finished by then is reported
as a batch item failure before Lambda would stop the invocation. Per record: send the stored rating under its
one idempotency key (`evalId` = rating_id; the province answers a repeat with the original receipt) and record
the receipt (R9, `hub.forwarding.ForwardService.forward`). A send that did not get through comes back after a
backoff that grows with the rating's own attempts; only failures the province gave count towards the
dead-letter queue, and a message received nearly `max_receives` times (the queue's maxReceiveCount, a backstop
for crashes) is queued afresh rather than dead-lettered. The second message type, `{"outcome": "<order
id>#<version>"}`, is a work-order event the province tracks (R14, R16, R17), sent by
`hub.outcomes.OutcomeDelivery` under that key. Why no Powertools Idempotency, and the throughput this gives:
docs/forwarding.md.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.edge.batch import Unfinished, concurrent_batch
from functions.edge.telemetry import Handler, entry, logger, metrics
from hub.forwarding import ProvinceUnreachable, RetryLater, backoff_seconds
from infra import bootstrap
from infra.bootstrap import ForwardServices, OutboxServices


@dataclass(frozen=True, slots=True)
class Work:
    """One record's work, in a pool thread: no metrics here (Powertools' are not thread-safe), only the outcome."""

    services: ForwardServices
    outbox: Callable[[], OutboxServices]  # built on the first outcome message

    def __call__(self, record: SQSRecord) -> str:
        body = json.loads(record.body)
        if "outcome" in body:
            return "outcome_" + self.deliver_outcome(record, body["outcome"])
        try:
            first = int(record.attributes.approximate_receive_count or 1) <= 1  # a redelivery reads the store
            return self.services.forward.forward(body["rating_id"], self.services.clock.now(), retry_in=self.delay,
                                                 handoff=body.get("stored") if first else None)  # fmt: skip
        except RetryLater as retry:
            if self.come_back(record, retry.delay, counted=retry.counted):
                return "requeued"
            raise

    def delay(self, attempt: int) -> int:
        base = self.services.settings.retry_base_seconds
        return backoff_seconds(attempt, base, jitter=random.uniform(0.8, 1.2))  # jitter, not crypto

    def come_back(self, record: SQSRecord, delay: int, *, counted: bool) -> bool:
        """The message comes back after `delay`. Near the redrive policy's maxReceiveCount (a backstop for
        crashes) a copy starts afresh instead, unless the failures were counted ones: returns True when the
        record is thereby done (a fresh copy is queued)."""
        receives = int(record.attributes.approximate_receive_count or 1)
        limit, queue = self.services.settings.max_receives, self.services.queue
        if limit and receives >= limit - 1 and not counted:
            queue.requeue(record.body, delay)
            return True
        queue.retry_later(record.receipt_handle, delay)
        return False

    def deliver_outcome(self, record: SQSRecord, key: str) -> str:
        delivery = self.outbox().delivery
        assert delivery is not None, "the forward function's outbox is built with the province"
        try:
            return delivery.deliver_queued(json.loads(record.body), retry_in=self.delay,
                                           now=self.services.clock.now())  # own attempt count  # fmt: skip
        except ProvinceUnreachable as exc:
            attempt = int(record.attributes.approximate_receive_count or 1)
            if self.come_back(record, self.delay(attempt), counted=exc.counted):
                return "requeued"
            raise RetryLater(self.delay(attempt), attempt, 0, str(exc), status=exc.status) from exc


def report(record: SQSRecord, outcome_of: Callable[[], str]) -> str:
    """What the pool did for this record, logged (ids and codes only) and counted."""
    ids = {"rating_id": json.loads(record.body).get("rating_id")} if '"rating_id"' in record.body else {}
    try:
        outcome = outcome_of()
    except RetryLater as retry:
        logger.warning("province unreachable", **ids, attempt=retry.attempt, failures=retry.failures,
                       retry_in=retry.delay, reason=retry.reason)  # fmt: skip
        metrics.add_metric(name="ForwardRetries", unit=MetricUnit.Count, value=1)
        raise
    except Unfinished:
        logger.warning("unfinished when the invocation's time ran out; it comes back from the queue", **ids)
        metrics.add_metric(name="ForwardUnfinished", unit=MetricUnit.Count, value=1)
        raise
    if outcome in ("dead_lettered", "outcome_dead_lettered"):  # an operator looks (`hcp dlq show`)
        keys = {"outcome_key": json.loads(record.body)["outcome"]} if outcome != "dead_lettered" else {}
        logger.error("dead-lettered after failures the province gave", **ids, **keys)
    elif outcome == "outcome_refused":  # the province judged it and said no: an operator looks
        logger.warning("work-order outcome refused by the province", outcome_key=json.loads(record.body)["outcome"])
    else:
        logger.info("forwarded", **ids, outcome=outcome)
    metrics.add_metric(name=f"Forward_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def make_handler(
    build: Callable[[], ForwardServices] = bootstrap.forward_from_env,
    outbox: Callable[[], OutboxServices] = bootstrap.delivery_from_env,
) -> Handler:
    """A Lambda handler over the services `build` and `outbox` make on first use (tests pass moto, and a clock)."""
    services, orders = bootstrap.BuiltOnce(build), bootstrap.BuiltOnce(outbox)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        forwarding = services()
        settings = forwarding.settings
        return concurrent_batch(event, context, Work(forwarding, orders), report,
                                concurrency=settings.concurrency, margin_ms=settings.safety_margin_ms)  # fmt: skip

    return entry(handler)


handler = make_handler()
