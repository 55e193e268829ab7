"""An SQS batch worked concurrently within the invocation's time, answered as partial batch failures.

Each record runs in a pool thread (the work waits on the network) under `infra.province.client.send_deadline`:
the invocation's remaining time less a margin. What has not finished by then is reported as a batch item
failure (`Unfinished`) before Lambda would stop the invocation, so no record comes back with its receive count
raised for a batch that was abandoned. Powertools' `BatchProcessor` shapes the answer.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.edge.drain import remaining_ms
from infra.province.client import send_deadline

_local = threading.local()  # one BatchProcessor per thread: it keeps the batch's state while it runs


class Unfinished(Exception):
    """The record's work had not finished when the invocation's time ran out: it comes back from the queue."""


def _run(work: Callable[[SQSRecord], str], record: dict[str, Any], deadline: float) -> str:
    if time.monotonic() >= deadline:
        raise Unfinished("no time left before it started")
    with send_deadline(deadline):
        return work(SQSRecord(record))


def concurrent_batch(
    event: dict[str, Any], context: Any, work: Callable[[SQSRecord], str],
    report: Callable[[SQSRecord, Callable[[], str]], str], *, concurrency: int, margin_ms: int,
) -> dict[str, Any]:  # fmt: skip
    """`work(record)` for every record, `concurrency` at a time; then, in the invocation's thread (where metrics
    may be added), `report(record, outcome)` for each, `outcome()` giving the work's result or raising."""
    processor = getattr(_local, "processor", None)
    if processor is None:  # Lambda runs one batch at a time per container; the local cloud, one per poller
        processor = _local.processor = BatchProcessor(event_type=EventType.SQS)
    records = event.get("Records") or []
    deadline = time.monotonic() + max(0, remaining_ms(context, 60_000) - margin_ms) / 1000
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(records))), thread_name_prefix="forward")
    try:
        # Each record's work carries the invocation's context (a copy per thread): what the invocation set, such as
        # the local cloud's note of which function is calling under which role, holds in the pool too.
        futures = {
            r["messageId"]: pool.submit(contextvars.copy_context().run, _run, work, r, deadline) for r in records
        }
        wait_for(list(futures.values()), timeout=max(0.0, deadline - time.monotonic()))

        def handle(record: SQSRecord) -> str:
            return report(record, lambda: _outcome(futures[record.message_id]))

        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # work still running ends by its own deadline


def _outcome(future: Future[str]) -> str:
    if not future.done():
        future.cancel()
        raise Unfinished("the invocation's time ran out first")
    return future.result()
