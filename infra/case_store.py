"""Completed cases, their timers and the notification log in DynamoDB (the template's CasesTable: pk, sk).

Items:
  - `pk=CASE#{case_key}, sk=CASE`: the notice (JSON without the applicant), the applicant sealed apart
    (R20), its content hash, the window (`closes_at`, `provisional`) and, while the window is
    provisional, `provisional_year`: the key of the sparse GSI `by_provisional_year`.
  - `pk=CASE#{case_key}, sk=TIMER#{kind}`: one timer, `due_at` (UTC text, fixed width) and, while it
    is pending, `due_shard` (`due#0`..`due#7`): the sparse GSI `by_due` (due_shard, due_at). Spreading
    the pending timers over 8 shards keeps any one index partition cool; the scheduler queries each
    shard for `due_at <= now`, so it reads what is due and nothing else.
  - `pk=SMSLOG#{yyyy-mm-dd}, sk={at}#{case_key}#{kind}#{attempt}`: the notification log, one partition
    per day in Asia/Shanghai; phones masked before they get here.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hub.calendar import SHANGHAI
from hub.case_notice import CaseNotice
from hub.cases import Timer, TimerKind
from hub.ports import (
    CasePutOutcome,
    CaseStore,
    Notification,
    NotificationLog,
    PersonalDataSealer,
    StoredCase,
    TimerStore,
)
from infra import dynamo_pages
from infra.rating_store import parse_utc_text, utc_text

DUE_INDEX = "by_due"
PROVISIONAL_INDEX = "by_provisional_year"
SHARDS = 8


def shard_of(timer_id: str) -> str:
    """Stable, so a timer keeps its shard when it is deferred or rescheduled."""
    digest = hashlib.blake2b(timer_id.encode(), digest_size=2).digest()
    return f"due#{int.from_bytes(digest, 'big') % SHARDS}"


def _case_pk(case_key: str) -> dict[str, str]:
    return {"S": f"CASE#{case_key}"}


def _timer_key(timer: Timer) -> dict[str, Any]:
    return {"pk": _case_pk(timer.case_key), "sk": {"S": f"TIMER#{timer.kind.value}"}}


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoCaseStore(CaseStore):
    """R20: `sealer` is required (the applicant is sealed): no default keeps it in clear text."""

    def __init__(self, client: Any, table: str, *, sealer: PersonalDataSealer, attempts: int = 4) -> None:
        self._client = client
        self._table = table
        self._sealer = sealer
        self._attempts = attempts

    def put_new(self, case: StoredCase, timers: Sequence[Timer]) -> CasePutOutcome:
        content_hash = case.content_hash
        items = [self._case_item(case, content_hash)] + [self._timer_item(t) for t in timers]
        puts = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            for item in items
        ]
        for attempt in range(self._attempts):
            try:
                # one token per attempt: botocore's own retries reuse it, so a retried success is not a duplicate
                self._client.transact_write_items(TransactItems=puts, ClientRequestToken=uuid.uuid4().hex)
                return "accepted"
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or [{}]
                if reasons[0].get("Code") == "ConditionalCheckFailed":
                    old: Mapping[str, Any] = reasons[0].get("Item") or self._item(case.case_key) or {}
                    return "duplicate" if old.get("content_hash", {}).get("S") == content_hash else "conflict"
                if attempt == self._attempts - 1:
                    raise
                time.sleep(0.01 * 2**attempt)  # TransactionConflict: another write to the same keys is running
        raise AssertionError("unreachable")

    def _case_item(self, case: StoredCase, content_hash: str) -> dict[str, Any]:
        data = case.notice.model_dump(mode="json")
        applicant = json.dumps(data.pop("applicant"), ensure_ascii=False, separators=(",", ":")).encode()
        item: dict[str, Any] = {
            "pk": _case_pk(case.case_key),
            "sk": {"S": "CASE"},
            "case_key": {"S": case.case_key},
            "connector_id": {"S": case.connector_id},
            "notice": {"S": json.dumps(data, ensure_ascii=False, separators=(",", ":"))},
            "applicant": {"B": self._sealer.seal(applicant, context=case.case_key)},
            "content_hash": {"S": content_hash},
            "raw_ref": {"S": case.raw_ref},
            "received_at": {"S": utc_text(case.received_at)},
            "closes_at": {"S": case.closes_at.isoformat()},
            "provisional": {"BOOL": case.provisional},
        }
        if case.provisional_year is not None:
            item["provisional_year"] = {"S": str(case.provisional_year)}
        return item

    @staticmethod
    def _timer_item(timer: Timer) -> dict[str, Any]:
        return {
            **_timer_key(timer),
            "case_key": {"S": timer.case_key},
            "kind": {"S": timer.kind.value},
            "due_at": {"S": utc_text(timer.due_at)},
            "due_shard": {"S": shard_of(timer.timer_id)},
            "attempts": {"N": "0"},
        }

    def _item(self, case_key: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": _case_pk(case_key), "sk": {"S": "CASE"}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    def get(self, case_key: str) -> StoredCase | None:
        item = self._item(case_key)
        if item is None:
            return None
        data = json.loads(item["notice"]["S"])
        data["applicant"] = json.loads(self._sealer.unseal(bytes(item["applicant"]["B"]), context=case_key))
        year = item.get("provisional_year", {}).get("S")
        return StoredCase(
            notice=CaseNotice.model_validate(data),
            connector_id=item["connector_id"]["S"],
            raw_ref=item["raw_ref"]["S"],
            received_at=parse_utc_text(item["received_at"]["S"]),
            closes_at=datetime.fromisoformat(item["closes_at"]["S"]),
            provisional=item["provisional"]["BOOL"],
            provisional_year=int(year) if year else None,
        )

    def provisional_in(self, year: int, limit: int) -> Sequence[str]:
        keys: list[str] = []
        request = {
            "TableName": self._table,
            "IndexName": PROVISIONAL_INDEX,
            "KeyConditionExpression": "provisional_year = :y",
            "ExpressionAttributeValues": {":y": {"S": str(year)}},
        }
        for item in dynamo_pages.items(self._client.query, request, limit=lambda: limit - len(keys)):
            keys.append(item["pk"]["S"].removeprefix("CASE#"))
        return keys

    def update_window(
        self, case_key: str, closes_at: datetime, provisional: bool, provisional_year: int | None
    ) -> None:
        values: dict[str, Any] = {":c": {"S": closes_at.isoformat()}, ":p": {"BOOL": provisional}}
        expression = "SET closes_at = :c, provisional = :p"
        if provisional_year is None:
            expression += " REMOVE provisional_year"  # out of the index: nothing left to recompute
        else:
            expression += ", provisional_year = :y"
            values[":y"] = {"S": str(provisional_year)}
        self._client.update_item(
            TableName=self._table,
            Key={"pk": _case_pk(case_key), "sk": {"S": "CASE"}},
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
        )


class DynamoTimerStore(TimerStore):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self.items_read = 0  # what the due queries returned, for the benchmark

    def due(self, now: datetime, limit: int) -> Sequence[Timer]:
        """Each shard's share of `limit`, so one busy shard cannot starve the others."""
        share = max(1, math.ceil(limit / SHARDS))
        found: list[Timer] = []
        for shard in range(SHARDS):
            found.extend(self._due_in(f"due#{shard}", utc_text(now), share))
        found.sort(key=lambda t: t.due_at)
        return found[:limit]

    def _due_in(self, shard: str, now: str, share: int) -> list[Timer]:
        timers: list[Timer] = []
        request = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "due_shard = :s AND due_at <= :now",
            "ExpressionAttributeValues": {":s": {"S": shard}, ":now": {"S": now}},
        }
        for response in dynamo_pages.pages(self._client.query, request, limit=lambda: share - len(timers)):
            self.items_read += int(response.get("ScannedCount", 0))
            for item in response.get("Items", []):
                timers.append(
                    Timer(
                        item["pk"]["S"].removeprefix("CASE#"),
                        TimerKind(item["sk"]["S"].removeprefix("TIMER#")),
                        parse_utc_text(item["due_at"]["S"]),
                    )
                )
        return timers

    def claim(self, timer: Timer, lease_until: datetime) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_timer_key(timer),
                UpdateExpression="SET due_at = :lease ADD attempts :one",
                ConditionExpression="attribute_exists(due_shard) AND due_at = :seen",
                ExpressionAttributeValues={
                    ":lease": {"S": utc_text(lease_until)},
                    ":seen": {"S": utc_text(timer.due_at)},
                    ":one": {"N": "1"},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return None
            raise
        return int(response["Attributes"]["attempts"]["N"])

    def finish(self, timer: Timer, outcome: str, *, at: datetime) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_timer_key(timer),
                UpdateExpression="SET outcome = :o, fired_at = :t REMOVE due_shard",
                ConditionExpression="attribute_exists(pk)",  # an update would otherwise create a stray item
                ExpressionAttributeValues={":o": {"S": outcome}, ":t": {"S": utc_text(at)}},
            )
        except ClientError as exc:
            if not _failed_condition(exc):
                raise

    def defer(self, timer: Timer, due_at: datetime) -> None:
        self._set_due(timer, due_at)

    def reschedule(self, timer: Timer) -> bool:
        return self._set_due(timer, timer.due_at)

    def _set_due(self, timer: Timer, due_at: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_timer_key(timer),
                UpdateExpression="SET due_at = :d",
                ConditionExpression="attribute_exists(due_shard)",
                ExpressionAttributeValues={":d": {"S": utc_text(due_at)}},
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True


class DynamoNotificationLog(NotificationLog):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, notification: Notification) -> None:
        n = notification
        item: dict[str, Any] = {
            "pk": {"S": f"SMSLOG#{n.at.astimezone(SHANGHAI).date().isoformat()}"},
            "sk": {"S": f"{utc_text(n.at)}#{n.case_key}#{n.kind}#{n.attempt}"},
            "at": {"S": n.at.isoformat()},
            "case_key": {"S": n.case_key},
            "case_no": {"S": n.case_no},
            "kind": {"S": n.kind},
            "outcome": {"S": n.outcome},
            "attempt": {"N": str(n.attempt)},
        }
        for name in ("reason", "phone", "channel", "message_id"):
            value = getattr(n, name)
            if value is not None:
                item[name] = {"S": value}
        self._client.put_item(TableName=self._table, Item=item)

    def between(self, start: datetime, end: datetime) -> Sequence[Notification]:
        found: list[Notification] = []
        day = start.astimezone(SHANGHAI).date()
        while day <= end.astimezone(SHANGHAI).date():
            request = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                "ExpressionAttributeValues": {
                    ":p": {"S": f"SMSLOG#{day.isoformat()}"},
                    ":a": {"S": utc_text(start)},
                    ":b": {"S": utc_text(end) + "~"},
                },
            }
            found.extend(_notification(item) for item in dynamo_pages.items(self._client.query, request))
            day += timedelta(days=1)
        return [n for n in found if start <= n.at < end]


def _notification(item: dict[str, Any]) -> Notification:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return str(value) if value is not None else None

    return Notification(
        at=datetime.fromisoformat(item["at"]["S"]),
        case_key=item["case_key"]["S"],
        case_no=item["case_no"]["S"],
        kind=item["kind"]["S"],
        outcome=item["outcome"]["S"],
        reason=text("reason"),
        phone=text("phone"),
        channel=text("channel"),
        message_id=text("message_id"),
        attempt=int(item["attempt"]["N"]),
    )
