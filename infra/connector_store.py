"""Connectors in DynamoDB (the template's ConnectorsTable, pk `pk`): one item per connector.

The secret is kept as is, because verifying an HMAC needs it (a hash would not do); the table is
encrypted at rest, and only the ingest and registry functions may read it. After a rotation the
previous secret is kept beside it until its grace period ends. Sealing it under KMS is the same seam
as the rater's personal data (`hub.ports.PersonalDataSealer`), not done yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import Connector, ConnectorChanged, ConnectorStore, UnknownConnector

__all__ = ["Connector", "DynamoConnectorStore"]


def _item(connector: Connector) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": f"CONNECTOR#{connector.connector_id}"},
        "connector_id": {"S": connector.connector_id},
        "kind": {"S": connector.kind},
        "name": {"S": connector.name},
        "department": {"S": connector.department},
        "status": {"S": connector.status},
        "secret": {"S": connector.secret},
        "created_at": {"S": connector.created_at.isoformat()},
        # JSON text, not a map: settings hold floats and nested tables DynamoDB would turn into Decimals
        "settings": {"S": json.dumps(dict(connector.settings), ensure_ascii=False)},
        "owner_agency": {"S": connector.owner_agency},
        "scope": {"S": json.dumps({"agencies": list(connector.agencies), "regions": list(connector.regions)})},
    }
    optional = {
        "spec": connector.spec,
        "previous_secret": connector.previous_secret,
        "previous_valid_until": connector.previous_valid_until.isoformat() if connector.previous_valid_until else None,
        "updated_at": connector.updated_at.isoformat() if connector.updated_at else None,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value is not None})
    return item


def _text(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _time(item: dict[str, Any], name: str) -> datetime | None:
    text = _text(item, name)
    return datetime.fromisoformat(text) if text else None


def _connector(item: dict[str, Any]) -> Connector:
    """Items written before the registry (no owner, scope or rotation) read as unrestricted, never rotated."""
    scope = json.loads(_text(item, "scope") or "{}")
    return Connector(
        connector_id=item["connector_id"]["S"],
        kind=item["kind"]["S"],
        name=item["name"]["S"],
        department=item["department"]["S"],
        status=item["status"]["S"],
        secret=item["secret"]["S"],
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        settings=json.loads(item["settings"]["S"]),
        owner_agency=_text(item, "owner_agency") or "",
        agencies=tuple(scope.get("agencies", ())),
        regions=tuple(scope.get("regions", ())),
        spec=_text(item, "spec"),
        previous_secret=_text(item, "previous_secret"),
        previous_valid_until=_time(item, "previous_valid_until"),
        updated_at=_time(item, "updated_at"),
    )


class DynamoConnectorStore(ConnectorStore):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _insert(self, connector: Connector) -> None:
        self._client.put_item(
            TableName=self._table, Item=_item(connector), ConditionExpression="attribute_not_exists(pk)"
        )

    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        condition, values = "attribute_exists(pk)", {}
        if previous is not None:  # optimistic: the item is still the one we read (its secret and its time)
            condition += " AND secret = :secret"
            values[":secret"] = {"S": previous.secret}
            if previous.updated_at is None:
                condition += " AND attribute_not_exists(updated_at)"
            else:
                condition += " AND updated_at = :updated"
                values[":updated"] = {"S": previous.updated_at.isoformat()}
        try:
            self._client.put_item(
                TableName=self._table, Item=_item(connector), ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                if self.get(connector.connector_id) is None:
                    raise UnknownConnector(connector.connector_id) from None
                raise ConnectorChanged(connector.connector_id) from None
            raise

    def get(self, connector_id: str) -> Connector | None:
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"CONNECTOR#{connector_id}"}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _connector(item) if item else None

    def list(self) -> Sequence[Connector]:
        """A scan: the connectors are a few dozen per deployment, and only operators list them."""
        found: list[Connector] = []
        kwargs: dict[str, Any] = {"TableName": self._table}
        while True:
            response = self._client.scan(**kwargs)
            found.extend(_connector(item) for item in response.get("Items", []) if "connector_id" in item)
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(found, key=lambda c: c.connector_id)
