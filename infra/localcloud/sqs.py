"""SQS event source mappings, played in-process: poll, batch, invoke, delete what succeeded.

As Lambda's poller does: up to `BatchSize` records, gathered for up to
`MaximumBatchingWindowInSeconds`; `ScalingConfig.MaximumConcurrency` pollers per mapping; with
`ReportBatchItemFailures` only the reported records stay on the queue, an exception (or an invalid
report) leaves the whole batch. Messages become visible again after the visibility timeout, and
moto moves them to the dead-letter queue once `maxReceiveCount` receives have passed (checked:
moto 5.2.5 does this on receive, as SQS does).

Threaded, each poller long-polls for `LONG_POLL_SECONDS` (20, as Lambda's pollers do): an idle queue costs
a receive per poller every 20 s, not every second (30 pollers were 30 requests a second to moto, ~0.1 core).
`stop()` and `pause()` do not wait for a receive in flight: what it brings after a stop is left on the queue,
after a pause it is processed on `resume()`.

Driven (`held=True`, the tests' mode): no thread polls; `drive()` takes what is visible, batch after
batch, and invokes the function in the caller's thread until the queue shows nothing more. A message
the function leaves on the queue (a failed record, a failed batch) is *held*: its visibility is set
to 10 hours (SQS allows 12 from the receive), whatever the function set (the forward function's backoff, the queue's
timeout), because moto counts visibility on the wall clock, which the business clock does not move,
and a message reappearing a second later would make a test's outcome depend on its speed. It comes
back only when the test asks, `redeliver()` (visibility 0: "its timeout has passed"); each receive
still counts toward `maxReceiveCount`, so the dead-letter queue fills as it would in AWS.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .lambdas import LocalFunction

log = logging.getLogger("hcp.localcloud")
HOLD_SECONDS = 36_000  # a held message waits for `redeliver()`; SQS allows 12 h from its receive in all
LONG_POLL_SECONDS = 20  # SQS's longest wait, Lambda's pollers' too


@dataclass(frozen=True)
class SqsMapping:
    function: str  # logical id
    queue_url: str  # as the local endpoint serves it
    queue_arn: str
    batch_size: int
    batching_window: float
    report_batch_item_failures: bool
    concurrency: int
    enabled: bool = True


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes", {}))
        records.append({
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": attributes,
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


def failed_message_ids(result: Any, message_ids: list[str]) -> set[str]:
    """Which records stay on the queue after a successful invocation with ReportBatchItemFailures.
    As Lambda does, a malformed report (or an unknown, empty identifier) fails the whole batch."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        return set(message_ids)
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            log.warning("invalid batchItemFailures entry %r: the whole batch is retried", failure)
            return set(message_ids)
        failed.add(identifier)
    return failed


class QueuePoller:
    """The pollers of one mapping. `busy` counts batches in flight, for `drain`."""

    def __init__(self, mapping: SqsMapping, function: LocalFunction, client: Any, region: str,
                 visibility_timeout: int | None = None, *, held: bool = False) -> None:
        self.mapping = mapping
        self.function = function
        self.client = client
        self.region = region
        self.visibility_timeout = visibility_timeout
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._lock = threading.Lock()
        self.batches = 0
        self.held = held  # driven: what a function leaves on the queue waits for `redeliver()`
        self._held: dict[str, str] = {}  # message id -> its latest receipt handle

    @property
    def busy(self) -> int:
        with self._lock:
            return self._busy

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        for n in range(self.mapping.concurrency):
            thread = threading.Thread(target=self._run, name=f"sqs-{self.mapping.function}-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Take no more batches and wait for the ones being processed; a receive still waiting (a long poll)
        is not waited for: what it brings is left on the queue (its visibility timeout brings it back)."""
        self._stop.set()
        self._running.set()  # a paused poller holding a batch lets it go
        self._wait_idle(timeout)
        self._threads.clear()

    def pause(self, timeout: float = 30.0) -> None:
        """Stop taking batches, and wait for the ones in flight (a batch received meanwhile waits for `resume`)."""
        with self._lock:
            self._running.clear()
        self._wait_idle(timeout)

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    return
            time.sleep(0.02)

    def resume(self) -> None:
        self._running.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait(0.2)
                continue
            try:
                self.poll_once(wait=LONG_POLL_SECONDS)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("polling %s failed; retrying", self.mapping.queue_arn)
                self._stop.wait(1.0)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.mapping.queue_url,
            "MaxNumberOfMessages": min(10, count),
            "WaitTimeSeconds": wait,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self.visibility_timeout
        messages: list[dict[str, Any]] = self.client.receive_message(**kwargs).get("Messages", [])
        return messages

    def poll_once(self, wait: int = 1) -> int:
        """Receive one batch (waiting up to `wait` seconds for the first message) and process it."""
        batch = self._receive(self.mapping.batch_size, wait=wait)
        if not batch:
            return 0
        while True:
            with self._lock:
                if self._stop.is_set():
                    return 0  # left on the queue: its visibility timeout brings it back
                if self._running.is_set():
                    self._busy += 1
                    break
            self._running.wait(0.2)  # paused (another local cloud owns the process): processed on resume
        try:
            window_ends = time.monotonic() + self.mapping.batching_window
            while len(batch) < self.mapping.batch_size and time.monotonic() < window_ends:
                more = self._receive(self.mapping.batch_size - len(batch), wait=0)
                if not more:
                    time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
                batch.extend(more)
            self._process(batch)
            return len(batch)
        finally:
            with self._lock:
                self._busy -= 1

    def _process(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self.batches += 1
        ids = [m["MessageId"] for m in batch]
        try:
            result = self.function.invoke(sqs_event(batch, self.mapping.queue_arn, self.region), enforce_timeout=True)
        except Exception:
            log.exception("%s failed on a batch of %d; the batch stays on the queue", self.mapping.function, len(batch))
            self._hold(batch)
            return
        failed = failed_message_ids(result, ids) if self.mapping.report_batch_item_failures else set()
        self._hold([m for m in batch if m["MessageId"] in failed])
        done = [m for m in batch if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            response = self.client.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                log.warning("could not delete a processed message: %s", failure)

    # --- driven: the test's thread does the polling ------------------------------------------------

    def drive(self, *, parallel: bool = False) -> int:
        """Process every visible message, batch by batch, until a receive finds none; returns how many
        were processed. With `parallel`, each round takes up to `concurrency` batches and runs them at
        once (as that many Lambda instances would), and returns when all have finished."""
        if not self.mapping.enabled:
            return 0
        processed = 0
        rounds = self.mapping.concurrency if parallel else 1
        with ThreadPoolExecutor(max_workers=rounds, thread_name_prefix=f"sqs-{self.mapping.function}") as pool:
            while True:
                batches = []
                for _ in range(rounds):
                    batch = self._receive(self.mapping.batch_size, wait=0)
                    while batch and len(batch) < self.mapping.batch_size:  # the batching window: what is there
                        more = self._receive(self.mapping.batch_size - len(batch), wait=0)
                        if not more:
                            break
                        batch.extend(more)
                    if not batch:
                        break
                    batches.append(batch)
                if not batches:
                    return processed
                for _ in pool.map(self._process, batches):
                    pass
                processed += sum(len(b) for b in batches)

    def _hold(self, messages: list[dict[str, Any]]) -> None:
        """Driven: keep what the function left on the queue invisible until `redeliver()`."""
        if not self.held or not messages:
            return
        self._change_visibility([m["ReceiptHandle"] for m in messages], HOLD_SECONDS)
        with self._lock:
            self._held.update((m["MessageId"], m["ReceiptHandle"]) for m in messages)

    @property
    def held_count(self) -> int:
        with self._lock:
            return len(self._held)

    def redeliver(self) -> int:
        """Driven: make every held message visible now, as if its visibility timeout had passed."""
        with self._lock:
            receipts, self._held = list(self._held.values()), {}
        self._change_visibility(receipts, 0)
        return len(receipts)

    def _change_visibility(self, receipts: list[str], seconds: int) -> None:
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": seconds} for i, r in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                log.warning("could not change a message's visibility: %s", failure)
