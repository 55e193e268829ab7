"""The forward queue in SQS: one message `{"rating_id": ...}` per stored rating, sent ten at a time; and, its
second message type, `{"outcome": key}` per work-order event the province tracks (`hub.outcomes`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hub.ports import ForwardQueue, OutcomeQueue

log = logging.getLogger(__name__)
BATCH = 10  # SQS's limit for send_message_batch


class SqsForwardQueue(ForwardQueue, OutcomeQueue):
    """Entries that fail are sent again (`attempts` in all) unless SQS blames the sender; what still
    fails is returned and stays pending in the ratings table, where the sweep finds it.
    """

    def __init__(
        self, client: Any, queue_url: str, *, dead_letter_url: str | None = None, attempts: int = 3,
        backoff: float = 0.05,
    ) -> None:  # fmt: skip
        self._client = client
        self._url = queue_url
        self._dead_letter_url = dead_letter_url
        self._attempts = attempts
        self._backoff = backoff

    def retry_later(self, receipt_handle: str, delay: int) -> None:
        """The received message comes back after `delay` seconds (its visibility timeout, at most 12 h)."""
        self._client.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(int(delay), 43_200))
        )

    def requeue(self, body: str, delay: int) -> None:
        """A fresh copy of a message, visible after `delay` (at most 15 min): its receive count starts again.
        For a message that has waited out a long outage, before the redrive policy's `maxReceiveCount`
        would dead-letter what the province never refused. Raises on a queue fault."""
        self._client.send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=max(0, min(int(delay), 900)))

    def retry_outcome(self, key: str, *, attempt: int, failures: int, delay: int) -> None:
        body = json.dumps({"outcome": key, "attempt": attempt, "failures": failures})
        self._client.send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=max(0, min(int(delay), 900)))

    def dead_letter_outcome(self, key: str, reason: str) -> None:
        self._dead_letter({"outcome": key, "dead_letter": {"reason": reason}}, reason)

    def dead_letter(self, rating_id: str, reason: str) -> None:
        """`{"rating_id", "dead_letter": {"reason"}}` into the dead-letter queue (the forward function reads
        `rating_id` alone when `hcp dlq redrive` puts it back); `reason` also as a message attribute."""
        self._dead_letter({"rating_id": rating_id, "dead_letter": {"reason": reason}}, reason)

    def _dead_letter(self, message: dict[str, Any], reason: str) -> None:
        if not self._dead_letter_url:
            raise RuntimeError("this forward queue was built without its dead-letter queue (FORWARD_DLQ_URL)")
        self._client.send_message(
            QueueUrl=self._dead_letter_url,
            MessageBody=json.dumps(message, ensure_ascii=False),
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )

    def enqueue(self, rating_ids: Sequence[str], handoffs: Mapping[str, str] | None = None) -> Sequence[str]:
        """A stored rating's handoff rides along as `stored`: the forward function sends it unread."""
        return self._enqueue(rating_ids, "rating_id", handoffs)

    def enqueue_outcomes(self, keys: Sequence[str]) -> Sequence[str]:
        return self._enqueue(keys, "outcome")

    def _enqueue(self, values: Sequence[str], field: str, handoffs: Mapping[str, str] | None = None) -> Sequence[str]:
        failed: list[str] = []
        for start in range(0, len(values), BATCH):
            failed.extend(self._send(values[start : start + BATCH], field, handoffs or {}))
        if failed:
            log.warning("forward queue: %d of %d %s left for the sweep", len(failed), len(values), field)
        return failed

    def _send(
        self, batch: Sequence[str], field: str = "rating_id", handoffs: Mapping[str, str] | None = None
    ) -> list[str]:
        waiting = {str(i): rating_id for i, rating_id in enumerate(batch)}
        refused: list[str] = []
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            entries = [{"Id": i, "MessageBody": _body(field, r, handoffs)} for i, r in waiting.items()]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                log.warning("forward queue: send_message_batch failed (%s)", type(exc).__name__)
                if isinstance(exc, BotoCoreError):
                    # No answer (a read timeout, a dropped connection): the batch may be on the queue already.
                    # The copies sent now go without the handoff, so whichever comes second reads the store and
                    # finds the rating forwarded, rather than sending it to the province again (issue 16).
                    handoffs = {}
                continue
            retry: dict[str, str] = {}
            for failure in response.get("Failed", []):
                if failure.get("SenderFault"):  # the entry itself is wrong: sending it again will not help
                    log.warning("forward queue: entry refused (%s)", failure.get("Code"))
                    refused.append(waiting[failure["Id"]])
                else:
                    retry[failure["Id"]] = waiting[failure["Id"]]
            waiting = retry
            if not waiting:
                break
        return refused + list(waiting.values())


def _body(field: str, value: str, handoffs: Mapping[str, str] | None) -> str:
    handoff = (handoffs or {}).get(value)
    return json.dumps({field: value} if handoff is None else {field: value, "stored": handoff}, ensure_ascii=False)
