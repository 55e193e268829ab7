"""What the sweep reads and re-queues with 100,000 ratings pending through an outage, 1,000 of them due.

The ratings are items of the RatingsTable template.yaml declares, in moto in-process, plus the
`by_forward_state` index (forward_state, stored_at) the table had before (the baseline): every one pending,
most waiting out their backoff (`next_due_at` ahead, as the forward function records it), `--due` of them
overdue (their message was lost). Before: one sweep query as it ran then (`by_forward_state`, `next_due_at`
filtered after the read, at most 20 pages). Printed: items read (DynamoDB's ScannedCount: what it
bills), pages, ratings returned, how many of them were only waiting out their backoff (each a duplicate
send the sweep would have caused), and time.
Now: the sweep service itself (`ForwardService.sweep`) over the sparse `by_next_due` index, within the
SweepFunction's `--timeout` (60 s), firing after firing until nothing is due; each invocation's time is
modelled (10 ms a DynamoDB request, 10 messages an SQS request) and the longest printed against the timeout.

moto walks the whole index in Python for each query page, so the times say little about DynamoDB; the
items read and the duplicates avoided carry over.

    .venv/bin/python bench/sweep.py [--ratings 100000] [--due 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collections.abc import Sequence  # noqa: E402

import boto3  # noqa: E402
import yaml  # noqa: E402
from moto import mock_aws  # noqa: E402

from hub.forwarding import SWEEP_AGE, ForwardService  # noqa: E402
from infra.memory import InMemoryForwardQueue, InMemorySealer  # noqa: E402
from infra.rating_store import DynamoRatingStore, utc_text  # noqa: E402

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
TABLE = "ratings"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def create_table(dynamodb: Any) -> None:
    props = yaml.load((ROOT / "template.yaml").read_text("utf-8"), Loader=_Loader)["Resources"]["RatingsTable"][
        "Properties"
    ]
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=[*props["GlobalSecondaryIndexes"], LEGACY_INDEX],
    )


LEGACY_INDEX = {  # the sweep's index before by_next_due: the baseline only, no longer in template.yaml
    "IndexName": "by_forward_state",
    "KeySchema": [{"AttributeName": "forward_state", "KeyType": "HASH"},
                  {"AttributeName": "stored_at", "KeyType": "RANGE"}],
    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["rating_id", "next_due_at"]},
}  # fmt: skip
LEGACY_MAX_PAGES = 20


def sweep_before(client: Any, cutoff: datetime, limit: int) -> list[str]:
    """The sweep's query as it ran before: the backlog stored before `cutoff`, what waits out its backoff
    read and then dropped by a filter (DynamoDB bills the read), at most 20 pages."""
    found: list[str] = []
    request: dict[str, Any] = {
        "TableName": TABLE, "IndexName": "by_forward_state",
        "KeyConditionExpression": "forward_state = :p AND stored_at < :c",
        "FilterExpression": "attribute_not_exists(next_due_at) OR next_due_at <= :c",
        "ExpressionAttributeValues": {":p": {"S": "pending"}, ":c": {"S": utc_text(cutoff)}},
        "ProjectionExpression": "rating_id", "Limit": limit,
    }  # fmt: skip
    for _ in range(LEGACY_MAX_PAGES):
        response = client.query(**request)
        found.extend(item["rating_id"]["S"] for item in response.get("Items", [])[: limit - len(found)])
        if len(found) >= limit or "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found


def load(dynamodb: Any, ratings: int, due: int) -> set[str]:
    """Pending ratings stored over the last hour; the `due` overdue ones spread among them. Returns their ids."""
    overdue: set[str] = set()
    step = max(1, ratings // max(due, 1))
    items = []
    for i in range(ratings):
        stored = NOW - timedelta(hours=1) + timedelta(seconds=3600 * i / ratings)
        rating_id = f"r-{i:08d}"
        late = i % step == 0 and len(overdue) < due
        # the overdue ones' next attempt was due 10 minutes ago (a lost message); a fresh rating's is its stored time
        next_due = NOW - timedelta(minutes=10) if late else NOW + timedelta(seconds=60 + i % 840)
        if late:
            overdue.add(rating_id)
        items.append({
            "pk": {"S": f"RATING#{rating_id}"}, "sk": {"S": "RATING"}, "rating_id": {"S": rating_id},
            "delivery": {"S": "pending"}, "forward_state": {"S": "pending"}, "stored_at": {"S": utc_text(stored)},
            "stored_month": {"S": utc_text(stored)[:7]}, "attempts": {"N": "3"}, "failures": {"N": "0"},
            "last_attempt_at": {"S": utc_text(NOW - timedelta(minutes=1))}, "next_due_at": {"S": utc_text(next_due)},
        })  # fmt: skip
    for start in range(0, len(items), 25):
        pending = {TABLE: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return overdue


class Counting:
    """The DynamoDB client, counting query pages and items read (ScannedCount: what DynamoDB bills) and every
    request, each costing `per_request_ms` of modelled invocation time (moto's own time says little)."""

    def __init__(self, client: Any, per_request_ms: float = 10.0) -> None:
        self.client, self.pages, self.scanned, self.requests = client, 0, 0, 0
        self.per_request_ms = per_request_ms

    @property
    def ms(self) -> float:
        return self.requests * self.per_request_ms

    def query(self, **kwargs: Any) -> Any:
        response = self.client.query(**kwargs)
        self.pages += 1
        self.requests += 1
        self.scanned += response.get("ScannedCount", 0)
        return response

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.client, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.requests += 1
            return call(*args, **kwargs)

        return counted


class ModelledQueue(InMemoryForwardQueue):
    """The forward queue, each send of up to 10 messages one request of modelled time."""

    def __init__(self, counting: Counting) -> None:
        super().__init__()
        self.counting = counting

    def enqueue(self, rating_ids: Sequence[str]) -> Sequence[str]:
        self.counting.requests += -(-len(rating_ids) // 10)
        return super().enqueue(rating_ids)


def sweep_runs(dynamodb: Any, overdue: set[str], timeout_s: float) -> dict[str, Any]:
    """The sweep service as the function runs it (`ForwardService.sweep` with the time left), firing after firing
    five minutes apart until nothing is due; each invocation's time modelled."""
    counting = Counting(dynamodb)
    queue = ModelledQueue(counting)
    forward = ForwardService(DynamoRatingStore(counting, TABLE, sealer=InMemorySealer()), None, queue)  # type: ignore[arg-type]
    longest, invocations, now = 0.0, 0, NOW
    while True:
        started = counting.ms
        found = forward.sweep(now, remaining_ms=lambda started=started: int(timeout_s * 1000 - (counting.ms - started)))
        invocations += 1
        longest = max(longest, (counting.ms - started) / 1000)
        if not found.behind:
            break
        now += timedelta(minutes=5)
    queued = queue.rating_ids()
    return {"read": counting.scanned, "pages": counting.pages, "queued": len(queued),
            "waiting": sum(1 for r in queued if r not in overdue), "invocations": invocations, "longest": longest,
            "twice": len(queued) - len(set(queued))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=60, help="the SweepFunction's Timeout")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb)
        started = time.perf_counter()
        overdue = load(dynamodb, args.ratings, args.due)
        took = time.perf_counter() - started
        print(f"{args.ratings} pending ratings ({len(overdue)} overdue) written in {took:.0f} s")
        cutoff = NOW - SWEEP_AGE
        counting = Counting(dynamodb)
        started = time.perf_counter()
        found = sweep_before(counting, cutoff, 1000)
        took = time.perf_counter() - started
        waiting = sum(1 for rating_id in found if rating_id not in overdue)
        before = counting.scanned
        print(f"before (by_forward_state, next_due_at filtered after the read): {len(found)} re-queued, {waiting} of "
              f"them only waiting out their backoff; {counting.scanned:,} items read in {counting.pages} pages "
              f"(cap {LEGACY_MAX_PAGES}), {counting.ms / 1000:.1f} s modelled; {took:.1f} s in moto")  # fmt: skip
        started = time.perf_counter()
        now = sweep_runs(dynamodb, overdue, args.timeout)
        took = time.perf_counter() - started
        met = now["waiting"] == 0 and now["queued"] == len(overdue) and now["longest"] <= args.timeout
        print(f"now (by_next_due, next_due_at <= now - 3 min the key condition; ForwardService.sweep within the "
              f"time left): {now['queued']} re-queued in {now['invocations']} invocation(s), {now['waiting']} only "
              f"waiting out their backoff, {now['twice']} queued twice; {now['read']:,} items read in {now['pages']} "
              f"pages; longest invocation {now['longest']:.1f} s of {args.timeout:.0f} s (modelled: 10 ms a "
              f"DynamoDB request, an SQS batch of 10 one request); {took:.1f} s in moto")  # fmt: skip
        print(f"items read now / before: {now['read'] / max(before, 1):.3f} ({now['read'] / max(len(overdue), 1):.2f} "
              f"per due rating); target (only what is due read, none waiting re-queued, within the timeout): "
              f"{'met' if met else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
