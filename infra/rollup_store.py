"""Rollup cells in DynamoDB (the template's RollupsTable: pk, sk; sparse GSI `by_agency`, KEYS_ONLY).

Items:
  - a cell (`hub.reports.cells` explains its key): one number attribute per counter (`g.satisfied`,
    `wo_fixed`, ...), `label` (the agency's, staff member's, service item's name) and, on the agency's
    summary cells only (`_#...`), `agency_period` = `{stored period}#{agency}`: the GSI key an agency's
    report finds its counties by.
  - `pk=change#{change_id}, sk=change`: the marker of a change applied, with `expires_at` (TTL) a week on;
    a stream keeps a record for 24 hours, so a re-delivery always meets its marker.

`apply` is one TransactWriteItems: each change's marker (a conditional Put) and one `ADD` Update per cell. The
condition failing means the change was counted already: nothing is added, and that is not an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from hub.rating import Rating
from hub.reports.cells import CellKey, Dim, OrderFacts, RatingFacts, RollupChange
from hub.reports.order_facts import order_facts
from hub.reports.ports import Cell, RebuiltPartition, RollupStore
from infra.workorder_store import order_of

AGENCY_INDEX = "by_agency"
MARKER_DAYS = 7
_KEYS = ("pk", "sk", "label", "agency_period")


class ChangeNotApplied(RuntimeError):
    """The transaction was cancelled for another reason than its marker (a conflict, throttling): retry."""


def _agency_period(key: CellKey) -> str | None:
    return f"{key.stored_period}#{key.agency}" if key.dim == Dim.SUMMARY else None


class DynamoRollupStore(RollupStore):
    def __init__(self, client: Any, table: str, *, clock: Any = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self.items_read = 0
        self.calls = 0  # requests made, reads and writes: what carries over to DynamoDB's bill

    def _update(self, key: CellKey, deltas: dict[str, int] | Any, label: str | None) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        adds = []
        for i, (name, n) in enumerate(sorted(deltas.items())):
            names[f"#c{i}"] = name
            values[f":c{i}"] = {"N": str(n)}
            adds.append(f"#c{i} :c{i}")
        sets = []
        if label:
            sets.append("label = :label")
            values[":label"] = {"S": label}
        agency_period = _agency_period(key)
        if agency_period:
            sets.append("agency_period = :ap")
            values[":ap"] = {"S": agency_period}
        expression = "ADD " + ", ".join(adds) + (" SET " + ", ".join(sets) if sets else "")
        return {"Update": {
            "TableName": self._table, "Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
            "UpdateExpression": expression, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }}  # fmt: skip

    def apply(self, change: RollupChange) -> bool:
        if change.empty:
            return True
        expires = str(int(self._clock()) + MARKER_DAYS * 86400)
        markers = [{"Put": {
            "TableName": self._table,
            "Item": {"pk": {"S": f"change#{change_id}"}, "sk": {"S": "change"}, "expires_at": {"N": expires}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }} for change_id in change.change_ids]  # fmt: skip
        items = markers + [
            self._update(key, deltas, change.labels.get(key)) for key, deltas in sorted(change.deltas.items())
        ]
        self.calls += 1
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons[: len(markers)]):
                return False
            raise ChangeNotApplied(f"rollup change {change.change_id} not applied: {reasons}") from exc
        return True

    def _cell(self, item: dict[str, Any]) -> Cell:
        counters = {name: int(value["N"]) for name, value in item.items() if name not in _KEYS and "N" in value}
        return Cell(CellKey(item["pk"]["S"], item["sk"]["S"]), counters, item.get("label", {}).get("S"))

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            self.calls += 1
            response = self._client.query(TableName=self._table, **kwargs)
            items.extend(response.get("Items", []))
            self.items_read += int(response.get("ScannedCount", len(response.get("Items", []))))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def query(self, pk: str, prefix: str = "") -> list[Cell]:
        condition = "pk = :pk" + (" AND begins_with(sk, :prefix)" if prefix else "")
        values = {":pk": {"S": pk}} | ({":prefix": {"S": prefix}} if prefix else {})
        return [self._cell(i) for i in self._query(KeyConditionExpression=condition, ExpressionAttributeValues=values)]

    def agency_partitions(self, stored_period: str, agency_code: str) -> list[CellKey]:
        items = self._query(
            IndexName=AGENCY_INDEX,
            KeyConditionExpression="agency_period = :ap",
            ExpressionAttributeValues={":ap": {"S": f"{stored_period}#{agency_code}"}},
        )
        return sorted(CellKey(i["pk"]["S"], i["sk"]["S"]) for i in items)

    def replace(self, partition: RebuiltPartition) -> None:
        keep = {c.key.sk for c in partition.cells}
        stale = [c.key for c in self.query(partition.pk) if c.key.sk not in keep]
        requests: list[dict[str, Any]] = [
            {"DeleteRequest": {"Key": {"pk": {"S": k.pk}, "sk": {"S": k.sk}}}} for k in stale
        ]
        for cell in partition.cells:
            item: dict[str, Any] = {"pk": {"S": cell.key.pk}, "sk": {"S": cell.key.sk}}
            item.update({name: {"N": str(n)} for name, n in cell.counters.items()})
            if cell.label:
                item["label"] = {"S": cell.label}
            agency_period = _agency_period(cell.key)
            if agency_period:
                item["agency_period"] = {"S": agency_period}
            requests.append({"PutRequest": {"Item": item}})
        for start in range(0, len(requests), 25):
            pending = {self._table: requests[start : start + 25]}
            for attempt in range(8):
                self.calls += 1
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            else:
                raise RuntimeError(f"rebuild of {partition.pk}: items left unprocessed")


# --------------------------------------------------------------------------------------------------
# Stream images (DynamoDB JSON) of the ratings' and work orders' items, as the facts reports count


def rating_facts_of_image(image: dict[str, Any] | None) -> RatingFacts | None:
    """A RatingsTable rating item (sk RATING) as its reporting facts; the rater is never read (R20)."""
    if not image or image.get("sk", {}).get("S") != "RATING":
        return None
    data = json.loads(image["rating"]["S"])
    data.pop("rater", None)
    return RatingFacts.of(Rating.model_validate(data), adopted="not_adopted_by" not in image)


def order_facts_of_image(image: dict[str, Any] | None) -> OrderFacts | None:
    """A WorkOrdersTable order item (sk ORDER) as its reporting facts."""
    if not image or image.get("sk", {}).get("S") != "ORDER":
        return None
    return order_facts(order_of(image["order"]))


def rollup_store_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> DynamoRollupStore:
    from infra.bootstrap import aws_clients
    from infra.settings import ReportingSettings

    settings = ReportingSettings.from_env(environ)
    return DynamoRollupStore(aws_clients(session, ("dynamodb",))["dynamodb"], settings.rollups_table)
