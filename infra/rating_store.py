"""Ratings in DynamoDB (the template's RatingsTable: pk, sk; sparse GSIs `by_next_due` and `by_month`).

Items:
  - `pk=RATING#{rating_id}, sk=RATING`: the rating (JSON without the rater), the rater sealed apart
    (R20), its content hash, where the raw bytes are, `delivery` (pending/forwarded/parked) and, while
    it is still the sweep's or an operator's business, `forward_state` (pending/parked) and
    `next_due_at` (the stored time at first): with `forward_state` the key of the sparse GSI `by_next_due`
    the sweep reads, so it reads only what is due. A send that did not get through adds `attempts` (and
    `failures`, when the province gave it) and sets `last_attempt_at` and `next_due_at` (its backoff).
    The rating item also carries `stored_month` (UTC `yyyy-mm`), the key of the GSI `by_month`
    (stored_month, stored_at) that people's lists read newest first, and `agency_code`, `region_code`,
    `grade`, `not_adopted_by` for its filters.
  - `pk=DUP#{duplicate_key}, sk=DUP`: the case's slot (R8; R6 shares it), claimed in the same
    transaction, so two ratings for one case can never both be stored.
  - `pk=PERSON#{keyed hash}, sk=RATING#{rating_id}`: the auditor's look-up by phone or ID number (R20),
    the HMAC of the value (`infra.sealing.LookupHasher`), written in the same transaction.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import (
    DEAD_LETTERED_DUE,
    DUPLICATE,
    PersonalDataSealer,
    PutResult,
    RatingPage,
    RatingQuery,
    RatingStore,
    StoredRating,
    SweepPage,
    UnknownRating,
)
from hub.rating import Rating
from infra import dynamo_pages

DUE_INDEX = "by_next_due"  # sparse (forward_state, next_due_at), keys only: what the sweep finds due
MONTH_INDEX = "by_month"
MAX_QUERIES_PER_PAGE = 20  # a page is answered within a few hundred ms even when the filters match little
_NEW = "attribute_not_exists(pk)"


def utc_text(moment: datetime) -> str:
    """Fixed width in UTC, so text order is time order (the GSI's range key compares text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _maybe_time(value: dict[str, str] | None) -> datetime | None:
    return parse_utc_text(value["S"]) if value else None


def month_of(text: str) -> str:
    return text[:7]


def _months(start: datetime, end: datetime) -> list[str]:
    """The UTC months of [start, end), newest first."""
    first, last = utc_text(start)[:7], utc_text(end - timedelta(microseconds=1))[:7]
    year, month = int(last[:4]), int(last[5:7])
    found: list[str] = []
    while True:
        text = f"{year:04d}-{month:02d}"
        if text < first:
            return found
        found.append(text)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def _encode_cursor(month: str, key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"m": month, "k": key}, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, dict[str, Any]]:
    """Raises `ValueError` for a cursor this store did not give."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        month, key = data["m"], data["k"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError("not a cursor this list gave") from exc
    if not isinstance(month, str) or not isinstance(key, dict):
        raise ValueError("not a cursor this list gave")
    return month, key


class DynamoRatingStore(RatingStore):
    """R20: `sealer` is required, there is no default that would keep the rater in clear text: production
    passes `infra.sealing.EnvelopeSealer`, a store that never sees a rater `infra.sealing.NoPersonalData`."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        sealer: PersonalDataSealer,
        lookup_hash: Callable[[str, str], str] | None = None,
        attempts: int = 4,
        queries_per_page: int = MAX_QUERIES_PER_PAGE,
    ) -> None:
        self._client = client
        self._table = table
        self._sealer = sealer
        self._hash = lookup_hash  # None (tests of other things): no look-up items are written
        self._attempts = attempts
        self._queries_per_page = queries_per_page

    # -- writing once --

    def put_new(self, rating: Rating, raw_ref: str) -> PutResult:
        content_hash = self.content_hash(rating)
        data = rating.model_dump(mode="json")
        rater = json.dumps(data.pop("rater"), ensure_ascii=False, separators=(",", ":")).encode()
        stored_at = utc_text(rating.source.received_at)
        sealed = self._sealer.seal(rater, context=rating.rating_id)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        item = {
            "pk": {"S": f"RATING#{rating.rating_id}"},
            "sk": {"S": "RATING"},
            "rating_id": {"S": rating.rating_id},
            "connector_id": {"S": rating.source.connector_id},
            "rating": {"S": text},
            "rater": {"B": sealed},
            "content_hash": {"S": content_hash},
            "duplicate_key": {"S": rating.duplicate_key},
            "raw_ref": {"S": raw_ref},
            "delivery": {"S": "pending"},
            "forward_state": {"S": "pending"},
            "stored_at": {"S": stored_at},
            "next_due_at": {"S": stored_at},  # due for the sweep (by_next_due) unless forwarded or retried
            "stored_month": {"S": month_of(stored_at)},
            "agency_code": {"S": rating.target.agency_code},
            "region_code": {"S": rating.target.region_code},
            "grade": {"S": str(rating.grade.value)},
        }
        people = [
            {"pk": {"S": f"PERSON#{self._hash(kind, value)}"}, "sk": {"S": f"RATING#{rating.rating_id}"},
             "rating_id": {"S": rating.rating_id}}
            for kind, value in (("phone", rating.rater.phone), ("id_no", rating.rater.id_no))
            if value and self._hash
        ]  # fmt: skip
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
                        *({"Put": {"TableName": self._table, "Item": person}} for person in people),
                    ],
                    # botocore's own retries reuse it, so a retried success is not mistaken for a duplicate
                    ClientRequestToken=uuid.uuid4().hex,
                )
                handoff = {"rating": text, "rater": base64.b64encode(sealed).decode(), "raw_ref": raw_ref,
                           "content_hash": content_hash, "stored_at": stored_at}  # fmt: skip
                return PutResult("accepted", handoff=json.dumps(handoff, ensure_ascii=False, separators=(",", ":")))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or [{}, {}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    old: Mapping[str, Any] = reasons[0].get("Item") or self._item(rating.rating_id) or {}
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
        return None if item is None else self._stored(item)

    def from_handoff(self, rating_id: str, handoff: str) -> StoredRating | None:
        """The rater stays sealed in the message (R20) and is opened here, as a read of the item would."""
        try:
            data = json.loads(handoff)
            if json.loads(data["rating"]).get("rating_id") != rating_id:
                return None  # another rating's: its rater is sealed for that record, not this one
            item = {"rating": {"S": data["rating"]}, "rater": {"B": base64.b64decode(data["rater"])},
                    "rating_id": {"S": rating_id}, "raw_ref": {"S": data["raw_ref"]},
                    "content_hash": {"S": data["content_hash"]}, "stored_at": {"S": data["stored_at"]},
                    "next_due_at": {"S": data["stored_at"]}, "delivery": {"S": "pending"}}  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None
        stored = self._stored(item)
        return stored if stored.rating.rating_id == rating_id else None

    def _stored(self, item: dict[str, Any]) -> StoredRating:
        data = json.loads(item["rating"]["S"])
        data["rater"] = json.loads(self._sealer.unseal(bytes(item["rater"]["B"]), context=item["rating_id"]["S"]))
        return StoredRating(
            rating=Rating.model_validate(data),
            raw_ref=item["raw_ref"]["S"],
            content_hash=item["content_hash"]["S"],
            stored_at=parse_utc_text(item["stored_at"]["S"]),
            forward_state=item["delivery"]["S"],
            receipt=item.get("receipt", {}).get("S"),
            parked_reason=item.get("parked_reason", {}).get("S"),
            service_receipt=item.get("service_receipt", {}).get("S"),
            not_adopted_by=item.get("not_adopted_by", {}).get("S"),
            attempts=int(item.get("attempts", {}).get("N", 0)),
            failures=int(item.get("failures", {}).get("N", 0)),
            last_attempt_at=_maybe_time(item.get("last_attempt_at")),
            next_due_at=_maybe_time(item.get("next_due_at")),
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

    def _update(self, rating_id: str, expression: str, values: dict[str, Any], condition: str = "") -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RATING#{rating_id}"}, "sk": {"S": "RATING"}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownRating(rating_id) from None
            raise

    def mark_forwarded(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        """Out of the sparse `by_next_due`: a forwarded rating is nobody's backlog."""
        self._update(
            rating_id,
            "SET delivery = :d, receipt = :r, forwarded_at = :t REMOVE forward_state",
            {":d": {"S": "forwarded"}, ":r": {"S": receipt}, ":t": {"S": utc_text(at)}},
        )

    def mark_service_pushed(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        """Two-step provinces: the service record's receipt, beside the rating's forwarding state."""
        self._update(
            rating_id, "SET service_receipt = :r, service_at = :t", {":r": {"S": receipt}, ":t": {"S": utc_text(at)}}
        )

    def mark_parked(self, rating_id: str, reason: str, *, at: datetime) -> None:
        """Kept in `by_next_due` under `parked`, where an operator finds it and the sweep does not look."""
        self._update(
            rating_id,
            "SET delivery = :d, forward_state = :d, parked_reason = :r, parked_at = :t",
            {":d": {"S": "parked"}, ":r": {"S": reason}, ":t": {"S": utc_text(at)}},
        )

    def record_attempt(self, rating_id: str, *, at: datetime, next_due: datetime, counted: bool) -> None:
        """Only while pending: a late thread's record never lands on a rating forwarded meanwhile."""
        try:
            self._update(
                rating_id,
                "SET last_attempt_at = :t, next_due_at = :n ADD attempts :one, failures :f",
                {":t": {"S": utc_text(at)}, ":n": {"S": utc_text(next_due)}, ":one": {"N": "1"},
                 ":f": {"N": "1" if counted else "0"}, ":p": {"S": "pending"}},
                "delivery = :p",
            )  # fmt: skip
        except UnknownRating:
            if self._item(rating_id) is None:
                raise

    def mark_dead_lettered(self, rating_id: str, reason: str, *, at: datetime) -> None:
        self._update(
            rating_id,
            "SET attempts = :z, failures = :z, last_attempt_at = :t, next_due_at = :n, dead_letter_reason = :r",
            {":z": {"N": "0"}, ":t": {"S": utc_text(at)}, ":n": {"S": utc_text(DEAD_LETTERED_DUE)},
             ":r": {"S": reason[:500]}},
        )  # fmt: skip

    def due_for_sweep(self, due_by: datetime, limit: int, *, cursor: str | None = None) -> SweepPage:
        """One query page of `by_next_due` (keys only): `next_due_at <= due_by` is the key condition, so
        DynamoDB reads — and bills — only the due entries, never one waiting out its backoff."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "forward_state = :p AND next_due_at <= :d",
            "ExpressionAttributeValues": {":p": {"S": "pending"}, ":d": {"S": utc_text(due_by)}},
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        response = self._client.query(**kwargs)
        ids = [item["pk"]["S"].removeprefix("RATING#") for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return ids, base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None

    def requeued(self, rating_id: str, *, next_due: datetime) -> None:
        try:
            self._update(
                rating_id, "SET next_due_at = :n", {":n": {"S": utc_text(next_due)}, ":p": {"S": "pending"}},
                "delivery = :p",
            )  # fmt: skip
        except UnknownRating:
            if self._item(rating_id) is None:
                raise

    def mark_not_adopted(self, rating_id: str, *, order_id: str, at: datetime) -> None:
        values = {":o": {"S": order_id}, ":t": {"S": utc_text(at)}}
        self._update(rating_id, "SET not_adopted_by = :o, not_adopted_at = :t", values)

    # -- people's reads --

    def search(self, query: RatingQuery) -> RatingPage:
        months = _months(query.start, query.end)
        start_key: dict[str, Any] | None = None
        if query.cursor:
            month, start_key = decode_cursor(query.cursor)
            if month not in months:
                raise ValueError("the cursor is of another list")
            months = months[months.index(month) :]
        values: dict[str, Any] = {
            ":s": {"S": utc_text(query.start)},
            ":e": {"S": utc_text(query.end - timedelta(microseconds=1))},
        }
        conditions: list[str] = []
        if query.agencies is not None:
            if not query.agencies:
                return RatingPage([])
            names = [f":a{i}" for i in range(len(query.agencies))]
            conditions.append(f"agency_code IN ({', '.join(names)})")
            values.update({n: {"S": a} for n, a in zip(names, sorted(query.agencies), strict=True)})
        if query.region_prefix:
            conditions.append("begins_with(region_code, :rp)")
            values[":rp"] = {"S": query.region_prefix}
        if query.grade:
            conditions.append("grade = :g")
            values[":g"] = {"S": query.grade}
        if query.connector_id:
            conditions.append("connector_id = :c")
            values[":c"] = {"S": query.connector_id}
        if not query.include_not_adopted:
            conditions.append("attribute_not_exists(not_adopted_by)")
        found: list[dict[str, Any]] = []
        calls = 0
        for month in months:
            if calls >= self._queries_per_page:  # out of calls as a month begins: the next page starts with it
                return RatingPage([self._stored(i) for i in found], _encode_cursor(month, {}))
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": MONTH_INDEX,
                "KeyConditionExpression": "stored_month = :m AND stored_at BETWEEN :s AND :e",
                "ExpressionAttributeValues": {**values, ":m": {"S": month}},
                "ScanIndexForward": False,
                "Limit": max(query.limit, 50),
            }
            if conditions:
                request["FilterExpression"] = " AND ".join(conditions)
            for response in dynamo_pages.pages(
                self._client.query, request, start=start_key, max_pages=self._queries_per_page - calls
            ):
                calls += 1
                for item in response.get("Items", []):
                    found.append(item)
                    if len(found) == query.limit:
                        last = {k: item[k] for k in ("pk", "sk", "stored_month", "stored_at")}
                        return RatingPage(self._whole(found), _encode_cursor(month, last))
                start_key = response.get("LastEvaluatedKey")
            if start_key:  # out of calls for this request: the next page goes on from here
                return RatingPage(self._whole(found), _encode_cursor(month, start_key))
        return RatingPage(self._whole(found))

    def _whole(self, entries: list[dict[str, Any]]) -> list[StoredRating]:
        """The index holds the filters only (template.yaml): the page's items, read whole, in its order."""
        wanted = [{"pk": e["pk"], "sk": e["sk"]} for e in entries]
        found = dynamo_pages.batch_get(self._client, self._table, wanted, attempts=self._attempts + 4,
                                       what="ratings of a page")  # fmt: skip
        items = {item["pk"]["S"]: item for item in found}
        return [self._stored(items[e["pk"]["S"]]) for e in entries if e["pk"]["S"] in items]

    def ids_of_person(self, *, phone: str | None = None, id_no: str | None = None, limit: int = 100) -> Sequence[str]:
        if self._hash is None:
            raise RuntimeError("this store was built without a look-up key (infra.sealing.LookupHasher)")
        found: list[str] = []
        for kind, value in (("phone", phone), ("id_no", id_no)):
            if not value:
                continue
            response = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": f"PERSON#{self._hash(kind, value)}"}},
                ProjectionExpression="rating_id",
                Limit=limit,
            )
            found.extend(i["rating_id"]["S"] for i in response.get("Items", []) if i["rating_id"]["S"] not in found)
        return found[:limit]
