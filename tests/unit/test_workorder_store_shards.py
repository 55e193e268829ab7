"""The work-order store's due and outbox reads ask every shard's first page at once (issue 16): on a slow table a
read costs one query's latency, not eight after one another, which outran the scheduler's spare between two looks
at the clock. A client whose queries wait for each other tells the two apart without timing anything: sent one
after another, the first waits for the rest in vain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.workorder_store import SHARDS, DynamoWorkOrderStore


class WaitingForEveryShard:
    """Answers a query only once a query of every shard is in flight; an empty page each."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(SHARDS, timeout=10)  # only the failing case ever waits it out
        self.shards: set[str] = set()

    def query(self, **request: Any) -> dict[str, Any]:
        self.shards.add(request["ExpressionAttributeValues"][":s"]["S"])
        self.barrier.wait()
        return {"Items": [], "Count": 0, "ScannedCount": 0}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": {}}


@pytest.mark.parametrize("read", ["due", "outbox"])
def test_the_shards_first_pages_are_asked_together(read: str) -> None:
    client = WaitingForEveryShard()
    store = DynamoWorkOrderStore(client, "WorkOrders")
    now = datetime(2026, 10, 9, tzinfo=UTC)
    found = store.due(now, 100) if read == "due" else store.outbox(500, due_by=now)
    assert found == [] and len(client.shards) == SHARDS
