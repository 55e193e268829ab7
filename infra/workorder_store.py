"""Work orders and their outbox in DynamoDB (the template's WorkOrdersTable: pk, sk; four sparse GSIs).

Items:
  - `pk=ORDER#{id}, sk=ORDER`: the order's JSON, zlib-compressed (`order`, binary: `order_attribute`,
    `order_of`; an item written as text before is still read), its `version` (the optimistic lock),
    and the attributes the indexes and filters read:
      `agency_code` + `unit_key` ({dispatched UTC}#{id})        GSI `by_unit`: a unit's orders
      `managing_city` + `managing_key` ({managing region}#...)   GSI `by_managing_region`: a management
          department's orders (R18: a township's order is keyed under its county); a county queries
          `begins_with` its code, a city its whole partition
      `order_status` + `unit_key`                               GSI `by_status`: the operator's lists
      `check_shard` + `next_check_at`, only while a check is due  GSI `by_next_check`: the scheduler's
          `due(now)`, spread over 8 shards like the case timers
      `unit_region`, `due_at` (the earliest binding deadline): filters
  - `pk=ORDER#{id}, sk=OUTBOX#{version}`: an event still owed to the province or an SNS audience,
    written in the same transaction as the order version that produced it; `outbox_shard` + `owed_key`
    (GSI `by_outbox`) until `outbox_done` removes them (the item stays, with `done_at`, as a delivery log).
    `owed_key` begins with when the entry is due: the event's time, then the end of its queued copy's backoff
    (`outbox_due`), so the sweep's key condition leaves out an outcome only waiting out its backoff.
    `outbox_shard` says what the entry owes: `notice#0..7` for an event only departments hear of, `outbox#0..7`
    for one the province tracks, so the scheduler's notices-only read is a key condition on the notice shards
    and never reads an outcome (in an outage thousands of them wait; issue 16). Entries written before the split
    are all under `outbox#`: the full read (the sweep's) reads both, so a notice stored before is still relayed.

Nothing here holds the rater's personal data: orders and events name the rating, never the person (R20).
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import heapq
import itertools
import json
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from hub.codes import Level, county_of, region_level
from hub.workorders import (
    CursorInvalid,
    OrderFilter,
    OrderPage,
    OutboxEntry,
    Status,
    VersionConflict,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStore,
    owed,
)
from hub.workorders.store import managing_partition, notice_only, region_prefix
from infra.dynamo_pages import batch_get, pages
from infra.rating_store import utc_text

UNIT_INDEX = "by_unit"
REGION_INDEX = "by_managing_region"
STATUS_INDEX = "by_status"
CHECK_INDEX = "by_next_check"
OUTBOX_INDEX = "by_outbox"
SHARDS = 8
# `outbox_shard`'s prefixes: what an entry owes, in its key. The outcomes' is the one every entry had before the
# notices had their own (those written before are read by the full read only: docs/forwarding.md)
NOTICE_OUTBOX, OUTCOME_OUTBOX = "notice", "outbox"
_EVENT: TypeAdapter[Any] = TypeAdapter(WorkOrderEvent)


def _shard(prefix: str, key: str) -> str:
    """Stable: an order keeps its shard across versions."""
    digest = hashlib.blake2b(key.encode(), digest_size=2).digest()
    return f"{prefix}#{int.from_bytes(digest, 'big') % SHARDS}"


def _page_size(limit: int, shards: int = SHARDS) -> int:
    """A shard's page: its share of `limit`, and a little more, so most reads take one page per shard."""
    return max(2, -(-limit // shards) + 1)


def _outbox_kind(event: WorkOrderEvent) -> str:
    return NOTICE_OUTBOX if notice_only(event) else OUTCOME_OUTBOX


def _owed_key(due: datetime, order_id: str, version: int) -> str:
    """The outbox index's range key: when the entry is due (the event's time at first), then which it is."""
    return f"{utc_text(due)}#{order_id}#{version:08d}"


def _pk(order_id: str) -> dict[str, str]:
    return {"S": f"ORDER#{order_id}"}


def order_attribute(order: WorkOrder) -> dict[str, bytes]:
    """Compressed, because DynamoDB bills a write per KB: an order's JSON is 2.6 KB and more as its history
    grows, ~0.9 KB compressed, so each save of the order item bills 2 write units rather than 4 (issue 15)."""
    return {"B": zlib.compress(order.model_dump_json().encode(), 6)}


def order_of(attribute: Mapping[str, Any]) -> WorkOrder:
    """The order of an item's `order` attribute: bytes from boto3, base64 text in a stream record (as Lambda
    delivers binary), or the JSON text of an item written before the order was compressed."""
    if "S" in attribute:
        return WorkOrder.model_validate_json(attribute["S"])
    blob = attribute["B"]
    return WorkOrder.model_validate_json(zlib.decompress(base64.b64decode(blob) if isinstance(blob, str) else blob))


def _started_together(streams: list[Iterator[dict[str, Any]]]) -> list[Iterator[dict[str, Any]]]:
    """Each shard's first page asked at the same time (threads; botocore clients are thread-safe), the rest read
    lazily as the merge consumes them: one query's latency for the due and outbox reads rather than one per shard
    after another. On a slow table (8 x 3 s in a starved fault run) the reads outran the scheduler's 15 s spare
    between two looks at the clock (issue 16). Each thread runs in the caller's context (the local cloud counts an
    invocation's AWS calls through it)."""
    contexts = [contextvars.copy_context() for _ in streams]
    with ThreadPoolExecutor(max_workers=len(streams)) as pool:
        firsts = list(pool.map(lambda ctx, stream: ctx.run(lambda: list(itertools.islice(stream, 1))), contexts,
                               streams))  # fmt: skip
    return [itertools.chain(first, stream) for first, stream in zip(firsts, streams, strict=True)]


class DynamoWorkOrderStore(WorkOrderStore):
    def __init__(self, client: Any, table: str, *, attempts: int = 4) -> None:
        self._client = client
        self._table = table
        self._attempts = attempts
        self.items_read = 0  # what the due and outbox queries read, for the benchmark and tests
        self._counting = threading.Lock()  # the shards' first pages are read in threads (`_started_together`)

    # -- writing

    def _order_item(self, order: WorkOrder) -> dict[str, Any]:
        dispatched = utc_text(order.dispatched_at)
        managing = order.managing_department.region_code
        item: dict[str, Any] = {
            "pk": _pk(order.id),
            "sk": {"S": "ORDER"},
            "order_id": {"S": order.id},
            "rating_id": {"S": order.rating_id},
            "version": {"N": str(order.version)},
            "order": order_attribute(order),
            "order_status": {"S": order.status.value},
            "agency_code": {"S": order.unit.agency_code},
            "unit_region": {"S": order.unit.region_code},
            "unit_key": {"S": f"{dispatched}#{order.id}"},
            "managing_city": {"S": managing_partition(managing)},
            "managing_key": {"S": f"{managing}#{dispatched}#{order.id}"},
        }
        binding = [limit.at for limit in order.open_deadlines().values()]
        if binding:
            item["due_at"] = {"S": utc_text(min(binding))}
        check = order.next_check_at
        if check is not None:
            item["next_check_at"] = {"S": utc_text(check)}
            item["check_shard"] = {"S": _shard("check", order.id)}
        return item

    def _outbox_items(self, order: WorkOrder, after_version: int) -> list[dict[str, Any]]:
        items = []
        for event in order.history[after_version:]:
            if not owed(event):
                continue
            items.append(
                {
                    "pk": _pk(order.id),
                    "sk": {"S": f"OUTBOX#{event.version:08d}"},
                    "order_id": {"S": order.id},
                    "version": {"N": str(event.version)},
                    "event": {"S": event.model_dump_json()},
                    "outbox_shard": {"S": _shard(_outbox_kind(event), order.id)},
                    "owed_key": {"S": _owed_key(event.at, order.id, event.version)},
                }
            )
        return items

    def _write(self, order_put: dict[str, Any], outbox: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One transaction; None when it committed, else the stored order item (or {}) the condition saw."""
        actions = [{"Put": order_put}] + [
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
            for item in outbox
        ]
        for attempt in range(self._attempts):
            try:
                self._client.transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
                return None
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or [{}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    return dict(reasons[0].get("Item") or self._item(order_put["Item"]["order_id"]["S"]) or {})
                if attempt == self._attempts - 1:
                    raise
                time.sleep(0.01 * 2**attempt)  # TransactionConflict: a concurrent write to the same keys
        raise AssertionError("unreachable")

    def put_new(self, order: WorkOrder) -> bool:
        put = {
            "TableName": self._table,
            "Item": self._order_item(order),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        return self._write(put, self._outbox_items(order, 0)) is None

    def save(self, order: WorkOrder, expected_version: int) -> None:
        put = {
            "TableName": self._table,
            "Item": self._order_item(order),
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        seen = self._write(put, self._outbox_items(order, expected_version))
        if seen is not None:
            actual = seen.get("version", {}).get("N")
            raise VersionConflict(order.id, expected_version, int(actual) if actual is not None else None)

    # -- reading

    def _item(self, order_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": _pk(order_id), "sk": {"S": "ORDER"}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get(self, order_id: str) -> WorkOrder | None:
        item = self._item(order_id)
        return order_of(item["order"]) if item else None

    def due(self, now: datetime, limit: int = 100) -> list[WorkOrder]:
        """The earliest `limit` across the shards: each shard is paged in order and the pages merged, so
        a busy shard cannot push earlier orders of another out, and little beyond `limit` is read."""
        streams = [
            self._shard_stream(
                CHECK_INDEX,
                "check_shard = :s AND next_check_at <= :now",
                {":s": {"S": f"check#{shard}"}, ":now": {"S": utc_text(now)}},
                _page_size(limit),
            )
            for shard in range(SHARDS)
        ]
        merged = heapq.merge(*_started_together(streams), key=lambda item: (item["next_check_at"]["S"],
                                                                            item["order_id"]["S"]))  # fmt: skip
        # the index holds the keys, not the order (issue 15): the due ones are read whole, strongly, since the
        # scheduler acts on them (its saves are conditional on the version it read)
        return self._orders(list(itertools.islice(merged, limit)), consistent=True)

    def _orders(self, entries: Sequence[dict[str, Any]], *, consistent: bool = False) -> list[WorkOrder]:
        """The orders of index entries, in their order, read from the table by key (BatchGetItem, 100 a
        request, what DynamoDB hands back unprocessed asked again). An entry whose order is gone is skipped."""
        wanted = list(dict.fromkeys(e["pk"]["S"] for e in entries))
        items = batch_get(self._client, self._table, [{"pk": {"S": pk}, "sk": {"S": "ORDER"}} for pk in wanted],
                          attempts=self._attempts + 4, what="work orders", ProjectionExpression="pk, #o",
                          ExpressionAttributeNames={"#o": "order"}, ConsistentRead=consistent)  # fmt: skip
        found = {item["pk"]["S"]: order_of(item["order"]) for item in items}
        return [found[pk] for pk in wanted if pk in found]

    def outbox(
        self, limit: int = 100, *, due_by: datetime | None = None, notices_only: bool = False
    ) -> list[OutboxEntry]:
        """Earliest due first across the shards, merged the same way; `due_by` bounds the key (`owed_key`
        begins with the due time), so an entry waiting out its backoff is not read. `notices_only` reads the
        notice shards alone: not one outcome is read, however many are owed. The full read reads both (a notice
        written before the split is in the outcomes' shards)."""
        key, values = "outbox_shard = :s", {}
        if due_by is not None:
            key, values = key + " AND owed_key < :d", {":d": {"S": utc_text(due_by) + "~"}}  # "~": after any id
        kinds = (NOTICE_OUTBOX,) if notices_only else (NOTICE_OUTBOX, OUTCOME_OUTBOX)
        page = _page_size(limit, SHARDS * len(kinds))
        streams = [
            self._shard_stream(OUTBOX_INDEX, key, {":s": {"S": f"{kind}#{shard}"}, **values}, page)
            for kind in kinds
            for shard in range(SHARDS)
        ]
        merged = heapq.merge(*_started_together(streams), key=lambda item: item["owed_key"]["S"])
        return [
            OutboxEntry(item["order_id"]["S"], int(item["version"]["N"]), _EVENT.validate_json(item["event"]["S"]))
            for item in itertools.islice(merged, limit)
        ]

    def _shard_stream(self, index: str, key: str, values: dict[str, Any], page: int) -> Iterator[dict[str, Any]]:
        """One shard's items in index order, a page at a time, read only as far as they are consumed."""
        request = {"TableName": self._table, "IndexName": index, "KeyConditionExpression": key,
                   "ExpressionAttributeValues": values, "Limit": page}  # fmt: skip
        for response in pages(self._client.query, request):
            with self._counting:
                self.items_read += int(response.get("ScannedCount", 0))
            yield from response.get("Items", [])

    def outbox_done(self, entry: OutboxEntry) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _pk(entry.order_id), "sk": {"S": f"OUTBOX#{entry.version:08d}"}},
                UpdateExpression="SET done_at = :t REMOVE outbox_shard",
                ConditionExpression="attribute_exists(pk)",  # an update would otherwise create a stray item
                ExpressionAttributeValues={":t": {"S": utc_text(datetime.now(UTC))}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def outbox_due(self, key: str, at: datetime) -> None:
        """The index's key moves to `at`: one update, only while the entry is owed (in the index)."""
        order_id, _, version = key.rpartition("#")
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _pk(order_id), "sk": {"S": f"OUTBOX#{int(version):08d}"}},
                UpdateExpression="SET owed_key = :k",
                ConditionExpression="attribute_exists(outbox_shard)",
                ExpressionAttributeValues={":k": {"S": _owed_key(at, order_id, int(version))}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def owes(self, entry: OutboxEntry) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": _pk(entry.order_id), "sk": {"S": f"OUTBOX#{entry.version:08d}"}},
            ConsistentRead=True,
            ProjectionExpression="done_at",
        ).get("Item")
        return item is not None and "done_at" not in item

    # -- lists for the API: index queries, never a scan

    def list(self, filters: OrderFilter, *, limit: int = 50, cursor: str | None = None) -> OrderPage:
        """Newest dispatch first within each query; several queries (a unit's agencies, the operator's
        statuses) are read one after the other."""
        queries = self._queries(filters)
        position, start = _decode_cursor(cursor, len(queries))
        orders: list[WorkOrder] = []
        while position < len(queries) and len(orders) < limit:
            request = {"TableName": self._table, "ScanIndexForward": False, **queries[position]}
            # each request's Limit is what the page still lacks; it stops there, keeping its key as the cursor
            for response in pages(self._client.query, request, start=start, limit=lambda: limit - len(orders)):
                orders.extend(self._orders(response.get("Items", [])))
                start = response.get("LastEvaluatedKey")
            if not start:
                position += 1
        if position >= len(queries):
            return OrderPage(orders)
        return OrderPage(orders, _encode_cursor(position, start))

    def _queries(self, f: OrderFilter) -> Sequence[dict[str, Any]]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        conditions: list[str] = []
        if f.region is not None:
            values[":region"] = {"S": region_prefix(f.region)}
            conditions.append("begins_with(unit_region, :region)")
        if f.status is not None:
            names["#status"] = "order_status"
            values[":status"] = {"S": f.status.value}
            conditions.append("#status = :status")
        if f.due_before is not None:
            values[":due_before"] = {"S": utc_text(f.due_before)}
            conditions.append("due_at <= :due_before")
        if f.overdue_at is not None:
            values[":overdue_at"] = {"S": utc_text(f.overdue_at)}
            conditions.append("due_at < :overdue_at")

        def query(index: str, key: str, key_values: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
            kept = [c for c in conditions if c != drop]
            q: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": key}
            used_names = {k: v for k, v in names.items() if any(k in c for c in kept)}
            used_values = {k: v for k, v in values.items() if any(k in c for c in kept)}
            if kept:
                q["FilterExpression"] = " AND ".join(kept)
            if used_names:
                q["ExpressionAttributeNames"] = used_names
            q["ExpressionAttributeValues"] = {**used_values, **key_values}
            return q

        if f.agencies:
            return [query(UNIT_INDEX, "agency_code = :agency", {":agency": {"S": a}}) for a in f.agencies]
        if f.region is not None:
            level = region_level(f.region)
            city = managing_partition(f.region)
            if level in (Level.PROVINCE, Level.CITY):
                return [query(REGION_INDEX, "managing_city = :city", {":city": {"S": city}})]
            county = county_of(f.region)  # R18: a township's and a village's orders are the county's
            return [
                query(
                    REGION_INDEX,
                    "managing_city = :city AND begins_with(managing_key, :managed)",
                    {":city": {"S": city}, ":managed": {"S": county + "#"}},
                )
            ]
        statuses = [f.status] if f.status is not None else list(Status)
        status_condition = "#status = :status"
        return [
            query(STATUS_INDEX, "order_status = :key_status", {":key_status": {"S": s.value}}, drop=status_condition)
            for s in statuses
        ]


def _encode_cursor(position: int, start: dict[str, Any] | None) -> str:
    text = json.dumps({"q": position, "k": start}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, queries: int) -> tuple[int, dict[str, Any] | None]:
    if not cursor:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position, start = int(data["q"]), data["k"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise CursorInvalid(cursor) from None
    if not 0 <= position < queries or not (start is None or isinstance(start, dict)):
        raise CursorInvalid(cursor)
    return position, start


__all__: Sequence[str] = ("DynamoWorkOrderStore",)
