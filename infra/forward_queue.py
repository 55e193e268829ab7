"""The forward queue in SQS: one message `{"rating_id": ...}` per stored rating, sent ten at a time; and, its
second message type, `{"outcome": key}` per work-order event the province tracks (`hub.outcomes`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hub.outcomes import OutcomeQueue
from hub.ports import ForwardQueue

log = logging.getLogger(__name__)
BATCH = 10  # SQS's limit for send_message_batch


class SqsForwardQueue(ForwardQueue, OutcomeQueue):
    """Entries that fail are sent again (`attempts` in all) unless SQS blames the sender; what still
    fails is returned and stays pending in the ratings table, where the sweep finds it.
    """

    def __init__(self, client: Any, queue_url: str, *, attempts: int = 3, backoff: float = 0.05) -> None:
        self._client = client
        self._url = queue_url
        self._attempts = attempts
        self._backoff = backoff

    def enqueue(self, rating_ids: Sequence[str]) -> Sequence[str]:
        return self._enqueue(rating_ids, "rating_id")

    def enqueue_outcomes(self, keys: Sequence[str]) -> Sequence[str]:
        return self._enqueue(keys, "outcome")

    def _enqueue(self, values: Sequence[str], field: str) -> Sequence[str]:
        failed: list[str] = []
        for start in range(0, len(values), BATCH):
            failed.extend(self._send(values[start : start + BATCH], field))
        if failed:
            log.warning("forward queue: %d of %d %s left for the sweep", len(failed), len(values), field)
        return failed

    def _send(self, batch: Sequence[str], field: str = "rating_id") -> list[str]:
        waiting = {str(i): rating_id for i, rating_id in enumerate(batch)}
        refused: list[str] = []
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            entries = [{"Id": i, "MessageBody": json.dumps({field: r})} for i, r in waiting.items()]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                log.warning("forward queue: send_message_batch failed (%s)", type(exc).__name__)
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
