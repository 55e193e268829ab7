"""The work-order store's due and outbox reads ask every shard's first page at once (issue 16): on a slow table a
read costs one query's latency, not eight after one another, which outran the scheduler's spare between two looks
at the clock. A client whose queries wait for each other tells the two apart without timing anything: sent one
after another, the first waits for the rest in vain."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.workorder_store import SHARDS, DynamoWorkOrderStore


class WaitingForEveryShard:
    """Answers a query only once a query of every shard is in flight; an empty page each."""

    def __init__(self, shards: int) -> None:
        self.barrier = threading.Barrier(shards, timeout=10)  # only the failing case ever waits it out
        self.shards: set[str] = set()

    def query(self, **request: Any) -> dict[str, Any]:
        self.shards.add(request["ExpressionAttributeValues"][":s"]["S"])
        self.barrier.wait()
        return {"Items": [], "Count": 0, "ScannedCount": 0}

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": {}}


# the full outbox read asks the notices' shards and the outcomes' (issue 16: a notices-only read is a key condition)
@pytest.mark.parametrize(("read", "shards"), [("due", SHARDS), ("outbox", 2 * SHARDS), ("notices", SHARDS)])
def test_the_shards_first_pages_are_asked_together(read: str, shards: int) -> None:
    client = WaitingForEveryShard(shards)
    store = DynamoWorkOrderStore(client, "WorkOrders")
    now = datetime(2026, 10, 9, tzinfo=UTC)
    reads: dict[str, Callable[[], list[Any]]] = {
        "due": lambda: store.due(now, 100),
        "outbox": lambda: store.outbox(500, due_by=now),
        "notices": lambda: store.outbox(500, due_by=now, notices_only=True),
    }
    assert reads[read]() == [] and len(client.shards) == shards
    if read == "notices":
        assert all(shard.startswith("notice#") for shard in client.shards)
