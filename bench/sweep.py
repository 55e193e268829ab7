"""What the sweep reads and re-queues with 100,000 ratings pending through an outage, 1,000 of them due.

The ratings are items of the RatingsTable template.yaml declares (its `by_forward_state` index), in moto
in-process: every one pending, most waiting out their backoff (`next_due_at` ahead, as the forward
function records it), `--due` of them overdue (their message was lost). Then one sweep query, as the
sweep runs it (`DynamoRatingStore.pending_older_than(..., due_by=...)`), and as it ran before (no due
filter). Printed: items read (DynamoDB's ScannedCount: what it bills), pages, ratings returned, how many
of them were only waiting out their backoff (each a duplicate send the sweep would have caused), and time.

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

import boto3  # noqa: E402
import yaml  # noqa: E402
from moto import mock_aws  # noqa: E402

from hub.forwarding import SWEEP_AGE  # noqa: E402
from infra.memory import InMemorySealer  # noqa: E402
from infra.rating_store import MAX_SWEEP_PAGES, DynamoRatingStore, utc_text  # noqa: E402

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
        **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
    )


def load(dynamodb: Any, ratings: int, due: int) -> set[str]:
    """Pending ratings stored over the last hour; the `due` overdue ones spread among them. Returns their ids."""
    overdue: set[str] = set()
    step = max(1, ratings // max(due, 1))
    items = []
    for i in range(ratings):
        stored = NOW - timedelta(hours=1) + timedelta(seconds=3600 * i / ratings)
        rating_id = f"r-{i:08d}"
        late = i % step == 0 and len(overdue) < due
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
    """The DynamoDB client, counting the query pages and items read that the store's sweep query costs."""

    def __init__(self, client: Any) -> None:
        self.client, self.pages, self.scanned = client, 0, 0

    def query(self, **kwargs: Any) -> Any:
        response = self.client.query(**kwargs)
        self.pages += 1
        self.scanned += response.get("ScannedCount", 0)
        return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000)
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
        for label, due_by in (("before (no due filter)", None), ("now (next_due_at <= now - 3 min)", cutoff)):
            counting = Counting(dynamodb)
            store = DynamoRatingStore(counting, TABLE, sealer=InMemorySealer())
            started = time.perf_counter()
            found = store.pending_older_than(cutoff, 1000, due_by=due_by)
            took = time.perf_counter() - started
            waiting = sum(1 for rating_id in found if rating_id not in overdue)
            print(f"{label}: {len(found)} re-queued, {waiting} of them only waiting out their backoff "
                  f"(duplicate sends); {counting.scanned} items read in {counting.pages} pages "
                  f"(cap {MAX_SWEEP_PAGES}); {took:.1f} s in moto")  # fmt: skip


if __name__ == "__main__":
    main()
