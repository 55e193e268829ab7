"""The audit log of unmasked reads (R20) in DynamoDB (the template's AuditTable: pk, sk).

Items: `pk=AUDIT#{yyyy-mm-dd}` (UTC day), `sk={at}#{request_id}#{nonce}`: who (subject, role), the action,
the rating ids, the request id. Never a name, phone or ID number: the log says who looked, not what they saw.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hub.ports import AuditEntry, AuditLog
from infra import dynamo_pages
from infra.rating_store import parse_utc_text, utc_text


class DynamoAuditLog(AuditLog):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, entry: AuditEntry) -> None:
        """Raises whatever DynamoDB raises: the caller answers nothing unless this returned."""
        at = utc_text(entry.at)
        item: dict[str, Any] = {
            "pk": {"S": f"AUDIT#{at[:10]}"},
            "sk": {"S": f"{at}#{entry.request_id}#{secrets.token_hex(4)}"},
            "at": {"S": at},
            "subject": {"S": entry.subject},
            "role": {"S": entry.role},
            "action": {"S": entry.action},
            "request_id": {"S": entry.request_id},
            "rating_ids": {"L": [{"S": rating_id} for rating_id in entry.rating_ids]},
        }
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def between(self, start: datetime, end: datetime) -> Sequence[AuditEntry]:
        found: list[AuditEntry] = []
        day = parse_utc_text(utc_text(start)).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            request = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :p AND sk BETWEEN :s AND :e",
                "ExpressionAttributeValues": {
                    ":p": {"S": f"AUDIT#{utc_text(day)[:10]}"},
                    ":s": {"S": utc_text(start)},
                    ":e": {"S": utc_text(end)},
                },
            }
            found.extend(_entry(item) for item in dynamo_pages.items(self._client.query, request))
            day += timedelta(days=1)
        return [entry for entry in found if start <= entry.at < end]


def _entry(item: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        at=parse_utc_text(item["at"]["S"]),
        subject=item["subject"]["S"],
        role=item["role"]["S"],
        action=item["action"]["S"],
        rating_ids=tuple(value["S"] for value in item["rating_ids"]["L"]),
        request_id=item["request_id"]["S"],
    )
