"""Ratings in DynamoDB (the template's RatingsTable: pk, sk; sparse GSI `by_forward_state`).

Items:
  - `pk=RATING#{rating_id}, sk=RATING`: the rating (JSON without the rater), the rater sealed apart
    (R20), its content hash, where the raw bytes are, `delivery` (pending/forwarded/parked) and, while
    it is still the sweep's or an operator's business, `forward_state` + `stored_at`: the GSI key.
  - `pk=DUP#{duplicate_key}, sk=DUP`: the case's slot (R8; R6 shares it), claimed in the same
    transaction, so two ratings for one case can never both be stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import ACCEPTED, DUPLICATE, PersonalDataSealer, PutResult, RatingStore, StoredRating, UnknownRating
from hub.rating import Rating

GSI = "by_forward_state"
_NEW = "attribute_not_exists(pk)"


def utc_text(moment: datetime) -> str:
    """Fixed width in UTC, so text order is time order (the GSI's range key compares text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class PlaintextSealer(PersonalDataSealer):
    """Stores the rater as it is. The seam R20 needs: a KMS envelope sealer replaces this one (a later
    issue); until then the table's own encryption at rest is all there is.
    """

    def seal(self, plaintext: bytes) -> bytes:
        return plaintext

    def unseal(self, sealed: bytes) -> bytes:
        return sealed


class DynamoRatingStore(RatingStore):
    def __init__(self, client: Any, table: str, *, sealer: PersonalDataSealer | None = None, attempts: int = 4) -> None:
        self._client = client
        self._table = table
        self._sealer = sealer or PlaintextSealer()
        self._attempts = attempts

    # -- writing once --

    def put_new(self, rating: Rating, raw_ref: str) -> PutResult:
        content_hash = self.content_hash(rating)
        data = rating.model_dump(mode="json")
        rater = json.dumps(data.pop("rater"), ensure_ascii=False, separators=(",", ":")).encode()
        stored_at = utc_text(rating.source.received_at)
        item = {
            "pk": {"S": f"RATING#{rating.rating_id}"},
            "sk": {"S": "RATING"},
            "rating_id": {"S": rating.rating_id},
            "connector_id": {"S": rating.source.connector_id},
            "rating": {"S": json.dumps(data, ensure_ascii=False, separators=(",", ":"))},
            "rater": {"B": self._sealer.seal(rater)},
            "content_hash": {"S": content_hash},
            "duplicate_key": {"S": rating.duplicate_key},
            "raw_ref": {"S": raw_ref},
            "delivery": {"S": "pending"},
            "forward_state": {"S": "pending"},
            "stored_at": {"S": stored_at},
        }
        slot = {
            "pk": {"S": f"DUP#{rating.duplicate_key}"},
            "sk": {"S": "DUP"},
            "rating_id": {"S": rating.rating_id},
            "stored_at": {"S": stored_at},
        }
        for attempt in range(self._attempts):
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {"Put": self._put(item)},
                        {"Put": self._put(slot)},
                    ],
                    # botocore's own retries reuse it, so a retried success is not mistaken for a duplicate
                    ClientRequestToken=uuid.uuid4().hex,
                )
                return ACCEPTED
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or [{}, {}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    old = reasons[0].get("Item") or self._item(rating.rating_id) or {}
                    same = old.get("content_hash", {}).get("S") == content_hash
                    return DUPLICATE if same else PutResult("conflict", "source_id")
                if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
                    return PutResult("conflict", "case")
                if attempt == self._attempts - 1:
                    raise
                time.sleep(0.01 * 2**attempt)  # TransactionConflict: another write to the same keys is running
        raise AssertionError("unreachable")

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": _NEW,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    # -- reading --

    def _item(self, rating_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"RATING#{rating_id}"}, "sk": {"S": "RATING"}},
            ConsistentRead=True,
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get(self, rating_id: str) -> StoredRating | None:
        item = self._item(rating_id)
        if item is None:
            return None
        data = json.loads(item["rating"]["S"])
        data["rater"] = json.loads(self._sealer.unseal(bytes(item["rater"]["B"])))
        return StoredRating(
            rating=Rating.model_validate(data),
            raw_ref=item["raw_ref"]["S"],
            content_hash=item["content_hash"]["S"],
            stored_at=parse_utc_text(item["stored_at"]["S"]),
            forward_state=item["delivery"]["S"],
            receipt=item.get("receipt", {}).get("S"),
            parked_reason=item.get("parked_reason", {}).get("S"),
        )

    def slot_holder(self, duplicate_key: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"DUP#{duplicate_key}"}, "sk": {"S": "DUP"}},
            ProjectionExpression="rating_id",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return item["rating_id"]["S"] if item else None

    # -- the forwarding backlog --

    def _update(self, rating_id: str, expression: str, values: dict[str, Any]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RATING#{rating_id}"}, "sk": {"S": "RATING"}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownRating(rating_id) from None
            raise

    def mark_forwarded(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        """Out of the sparse GSI: a forwarded rating is nobody's backlog."""
        self._update(
            rating_id,
            "SET delivery = :d, receipt = :r, forwarded_at = :t REMOVE forward_state",
            {":d": {"S": "forwarded"}, ":r": {"S": receipt}, ":t": {"S": utc_text(at)}},
        )

    def mark_parked(self, rating_id: str, reason: str, *, at: datetime) -> None:
        """Kept in the GSI under `parked`, where an operator finds it and the sweep does not look."""
        self._update(
            rating_id,
            "SET delivery = :d, forward_state = :d, parked_reason = :r, parked_at = :t",
            {":d": {"S": "parked"}, ":r": {"S": reason}, ":t": {"S": utc_text(at)}},
        )

    def pending_older_than(self, cutoff: datetime, limit: int) -> Sequence[str]:
        found: list[str] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": GSI,
                "KeyConditionExpression": "forward_state = :p AND stored_at < :c",
                "ExpressionAttributeValues": {":p": {"S": "pending"}, ":c": {"S": utc_text(cutoff)}},
                "ProjectionExpression": "rating_id",
                "Limit": limit - len(found),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._client.query(**kwargs)
            found.extend(item["rating_id"]["S"] for item in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return found
