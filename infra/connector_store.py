"""Connectors in DynamoDB (the template's ConnectorsTable, pk `pk`): one item per connector.

The secret is kept as is, because verifying an HMAC needs it (a hash would not do); the table is
encrypted at rest, and only the ingest function may read it. Sealing it under KMS is the same seam
as the rater's personal data (`hub.ports.PersonalDataSealer`), left for the registry issue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import Connector, ConnectorStore, UnknownConnector

__all__ = ["Connector", "DynamoConnectorStore"]


def _item(connector: Connector) -> dict[str, Any]:
    return {
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
    }


def _connector(item: dict[str, Any]) -> Connector:
    return Connector(
        connector_id=item["connector_id"]["S"],
        kind=item["kind"]["S"],
        name=item["name"]["S"],
        department=item["department"]["S"],
        status=item["status"]["S"],
        secret=item["secret"]["S"],
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        settings=json.loads(item["settings"]["S"]),
    )


class DynamoConnectorStore(ConnectorStore):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _insert(self, connector: Connector) -> None:
        self._client.put_item(
            TableName=self._table, Item=_item(connector), ConditionExpression="attribute_not_exists(pk)"
        )

    def _replace(self, connector: Connector) -> None:
        try:
            self._client.put_item(
                TableName=self._table, Item=_item(connector), ConditionExpression="attribute_exists(pk)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownConnector(connector.connector_id) from None
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
