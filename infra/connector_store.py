"""Connectors in DynamoDB (the template's ConnectorsTable, pk `pk`): one item per connector.

Verifying an HMAC needs the secret itself (a hash would not do). With a sealer (production wiring:
the KMS envelope of `infra.sealing`, as for raters' personal data) the secret and, after a rotation, the
previous one are stored sealed, bound to the connector's id, with a SHA-256 digest beside them for the
optimistic check; without one (tests, items written before) they are plain text in an encrypted table.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import Clock, Connector, ConnectorChanged, ConnectorStore, PersonalDataSealer, UnknownConnector
from infra import dynamo_pages

__all__ = ["CONNECTOR_CACHE_TTL", "CachedConnectorStore", "Connector", "DynamoConnectorStore"]

# How long a warm ingest container trusts its copy of a connector: disabling, a second rotation and scope,
# spec or settings changes reach every container within it (docs/signing.md, "Changes take effect").
CONNECTOR_CACHE_TTL = timedelta(seconds=30)


def _context(connector_id: str) -> str:
    return f"connector:{connector_id}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _item(connector: Connector, sealer: PersonalDataSealer | None = None) -> dict[str, Any]:
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
    if connector.retired:
        item["retired"] = {"S": json.dumps([[secret, at.isoformat()] for secret, at in connector.retired])}
    if sealer is not None:
        context = _context(connector.connector_id)
        item["secret_sealed"] = {"B": sealer.seal(item.pop("secret")["S"].encode(), context=context)}
        item["secret_digest"] = {"S": _digest(connector.secret)}
        if "previous_secret" in item:
            item["previous_secret_sealed"] = {
                "B": sealer.seal(item.pop("previous_secret")["S"].encode(), context=context)
            }
        if "retired" in item:
            item["retired_sealed"] = {"B": sealer.seal(item.pop("retired")["S"].encode(), context=context)}
    return item


def _secret(item: dict[str, Any], name: str, sealer: PersonalDataSealer | None) -> str | None:
    sealed = item.get(f"{name}_sealed")
    if sealed is None:
        return _text(item, name)
    if sealer is None:
        raise ValueError(f"connector {item['connector_id']['S']}: its {name} is sealed and this store has no sealer")
    return sealer.unseal(sealed["B"], context=_context(item["connector_id"]["S"])).decode()


def _text(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _time(item: dict[str, Any], name: str) -> datetime | None:
    text = _text(item, name)
    return datetime.fromisoformat(text) if text else None


def _connector(item: dict[str, Any], sealer: PersonalDataSealer | None = None) -> Connector:
    """Items written before the registry (no owner, scope or rotation) read as unrestricted, never rotated."""
    scope = json.loads(_text(item, "scope") or "{}")
    return Connector(
        connector_id=item["connector_id"]["S"],
        kind=item["kind"]["S"],
        name=item["name"]["S"],
        department=item["department"]["S"],
        status=item["status"]["S"],
        secret=_secret(item, "secret", sealer) or "",
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        settings=json.loads(item["settings"]["S"]),
        owner_agency=_text(item, "owner_agency") or "",
        agencies=tuple(scope.get("agencies", ())),
        regions=tuple(scope.get("regions", ())),
        spec=_text(item, "spec"),
        previous_secret=_secret(item, "previous_secret", sealer),
        previous_valid_until=_time(item, "previous_valid_until"),
        updated_at=_time(item, "updated_at"),
        retired=tuple(
            (secret, datetime.fromisoformat(at)) for secret, at in json.loads(_secret(item, "retired", sealer) or "[]")
        ),
    )


class DynamoConnectorStore(ConnectorStore):
    def __init__(self, client: Any, table: str, sealer: PersonalDataSealer | None = None) -> None:
        self._client = client
        self._table = table
        self._sealer = sealer

    def _insert(self, connector: Connector) -> None:
        self._client.put_item(
            TableName=self._table, Item=_item(connector, self._sealer), ConditionExpression="attribute_not_exists(pk)"
        )

    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        condition, values = "attribute_exists(pk)", {}
        if previous is not None:  # optimistic: the item is still the one we read (its secret and its time)
            if self._sealer is not None:
                condition += " AND secret_digest = :secret"
                values[":secret"] = {"S": _digest(previous.secret)}
            else:
                condition += " AND secret = :secret"
                values[":secret"] = {"S": previous.secret}
            if previous.updated_at is None:
                condition += " AND attribute_not_exists(updated_at)"
            else:
                condition += " AND updated_at = :updated"
                values[":updated"] = {"S": previous.updated_at.isoformat()}
        try:
            self._client.put_item(
                TableName=self._table, Item=_item(connector, self._sealer), ConditionExpression=condition,
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
        return _connector(item, self._sealer) if item else None

    def list(self) -> Sequence[Connector]:
        """A scan: the connectors are a few dozen per deployment, and only operators list them."""
        found: list[Connector] = []
        for item in dynamo_pages.items(self._client.scan, {"TableName": self._table}):
            if "connector_id" in item:
                found.append(_connector(item, self._sealer))
        return sorted(found, key=lambda c: c.connector_id)


class CachedConnectorStore(ConnectorStore):
    """A warm container's copies of the connectors its requests named, each trusted for `ttl` by `clock` (the
    services' clock): a signed request then costs no GetItem (issue 15: one of six AWS requests per rating).

    What a copy may hold back, and for how long (docs/signing.md): a new key, nothing — a signature that fails
    against a copy is checked against a fresh read (`infra.signing.verify` asks `read_fresh`); the previous key's
    grace period, nothing — the copy carries its end; disabling, a second rotation (the older key retired at once
    in the table), scope, spec and settings changes: up to `ttl`. An unknown id is not kept (a connector
    registered a moment ago works at once); a clock set back makes every copy stale. Writes through this store
    go to the store itself, from a fresh read, and drop the copy.
    """

    def __init__(self, store: ConnectorStore, clock: Clock, ttl: timedelta = CONNECTOR_CACHE_TTL) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._copies: dict[str, tuple[datetime, Connector]] = {}

    def get(self, connector_id: str) -> Connector | None:
        return self.lookup(connector_id)[0]

    def lookup(self, connector_id: str) -> tuple[Connector | None, bool]:
        """The connector and whether it is a copy (True) or was read from the store just now (False)."""
        now = self._clock.now()
        with self._lock:
            copy = self._copies.get(connector_id)
        if copy is not None and copy[0] <= now < copy[0] + self._ttl:
            return copy[1], True
        return self.read_fresh(connector_id), False

    def read_fresh(self, connector_id: str) -> Connector | None:
        """The connector as stored now, kept as the copy from now on."""
        now = self._clock.now()
        connector = self._store.get(connector_id)
        with self._lock:
            if connector is None:
                self._copies.pop(connector_id, None)
            else:
                self._copies[connector_id] = (now, connector)
        return connector

    def _forget(self, connector_id: str) -> None:
        with self._lock:
            self._copies.pop(connector_id, None)

    def list(self) -> Sequence[Connector]:
        return self._store.list()

    def update(self, connector_id: str, *, now: datetime | None = None, **changes: Any) -> Connector:
        self._forget(connector_id)
        try:
            return self._store.update(connector_id, now=now, **changes)
        finally:
            self._forget(connector_id)

    def rotate(self, connector_id: str, *, now: datetime, grace: timedelta) -> tuple[Connector, str]:
        self._forget(connector_id)
        try:
            return self._store.rotate(connector_id, now=now, grace=grace)
        finally:
            self._forget(connector_id)

    def _insert(self, connector: Connector) -> None:
        self._store._insert(connector)

    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        try:
            self._store._replace(connector, previous)
        finally:
            self._forget(connector.connector_id)
