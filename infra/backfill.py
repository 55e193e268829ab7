"""One-off backfills of the ratings table, paged and resumable, safe to run again.

`next_due_at`: the sweep reads the sparse index `by_next_due` (forward_state, next_due_at). A rating stored
before that index existed, still pending and never retried, has no `next_due_at`, so it is not in the index
and a lost message of it would never be re-queued. `backfill_next_due` gives each such rating its stored
time (what `put_new` writes today): it scans the table (a one-off: no index holds ratings without
`next_due_at`; the filter keeps the pending ones lacking it, so one that has it is left alone without a
write, though DynamoDB bills every item the scan reads), and writes only under the condition that
the rating is still pending, has no `next_due_at` and was not dead-lettered — so a re-run, a run beside the
live forwarder, or a run resumed from its cursor changes nothing twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True, slots=True)
class BackfillPage:
    """One page's work: index entries read, ratings given `next_due_at`, ratings the condition left alone (they
    changed meanwhile: forwarded, retried, dead-lettered), and the cursor of the next page (None: done)."""

    read: int
    updated: int
    skipped: int
    cursor: str | None


def _encode(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode() if key else None


def _decode(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ValueError(f"not a backfill cursor: {cursor!r}") from None
    if not isinstance(key, dict):
        raise ValueError(f"not a backfill cursor: {cursor!r}")
    return key


def backfill_next_due_page(client: Any, table: str, *, page: int = 500, cursor: str | None = None) -> BackfillPage:
    """One page of pending ratings (from `cursor`): those without `next_due_at` get their stored time."""
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "forward_state = :p AND attribute_not_exists(next_due_at)",
        "ExpressionAttributeValues": {":p": {"S": "pending"}},
        "ProjectionExpression": "pk, sk",
        "Limit": page,
    }
    if cursor:
        request["ExclusiveStartKey"] = _decode(cursor)
    response = client.scan(**request)
    updated = skipped = 0
    for item in response.get("Items", []):
        try:
            client.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET next_due_at = stored_at",
                ConditionExpression="attribute_not_exists(next_due_at) AND delivery = :p AND "
                "attribute_not_exists(dead_letter_reason) AND attribute_exists(stored_at)",
                ExpressionAttributeValues={":p": {"S": "pending"}},
            )
            updated += 1
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            skipped += 1
    last = _encode(response.get("LastEvaluatedKey"))
    return BackfillPage(int(response.get("ScannedCount", 0)), updated, skipped, last)


def backfill_next_due(
    client: Any, table: str, *, page: int = 500, cursor: str | None = None,
    progress: Callable[[BackfillPage], None] = lambda _: None,
) -> BackfillPage:  # fmt: skip
    """Every page from `cursor` to the end, `progress` told after each (its cursor resumes a run cut short); the
    totals, with the cursor None."""
    read = updated = skipped = 0
    while True:
        done = backfill_next_due_page(client, table, page=page, cursor=cursor)
        read, updated, skipped, cursor = read + done.read, updated + done.updated, skipped + done.skipped, done.cursor
        progress(done)
        if cursor is None:
            return BackfillPage(read, updated, skipped, None)
