"""Signed requests: how a connector signs (`sign`, for clients such as `hcp send`) and how the hub checks
(`verify`). The recipe is in docs/signing.md.

    X-Hcp-Signature = lowercase hex HMAC-SHA256(secret, f"{timestamp}\\n{nonce}\\n".encode() + body)

`verify` refuses, storing nothing, in this order: a header missing or malformed (401 SIGNATURE_MISSING),
an unknown connector (401 CONNECTOR_UNKNOWN), a wrong signature (401 SIGNATURE_INVALID; 401 KEY_RETIRED
for a secret a rotation replaced, once its grace period is over, however many rotations ago), a timestamp
more than 5 minutes from the hub's clock (401 TIMESTAMP_EXPIRED), a disabled connector (403
CONNECTOR_DISABLED), a nonce seen before (401 NONCE_REUSED). The nonce is recorded last, so a request
refused for any other reason does not use it up.

The ingest function reads connectors through a warm container's copies (`infra.connector_store.
CachedConnectorStore`, 30 s): a signature refused against a copy is checked again against a fresh read, so a
new key works at once; a disabled connector or a key retired by a second rotation is refused within 30 s.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from hub.errors import Refused, beijing_time, duration_zh, problem
from hub.ports import Connector, ConnectorStore, NonceStore
from infra.connector_store import CachedConnectorStore

CONNECTOR_HEADER = "X-Hcp-Connector"
TIMESTAMP_HEADER = "X-Hcp-Timestamp"
NONCE_HEADER = "X-Hcp-Nonce"
SIGNATURE_HEADER = "X-Hcp-Signature"
HEADERS = (CONNECTOR_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

MAX_SKEW = timedelta(minutes=5)
# Longer than the window a timestamp is accepted in (5 minutes either side of the clock), so a nonce is
# remembered for as long as a replay of it could pass the timestamp check.
NONCE_TTL = timedelta(minutes=10)
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # no separator can hide in it: "\n" frames the signed text
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class AuthRefused(Refused):
    """A request the hub will not read: 401, or 403 for a disabled connector."""

    status: int = 401


def signature(secret: str, body: bytes, timestamp: int | str, nonce: str) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
    *,
    connector_id: str | None = None,
) -> dict[str, str]:
    """The headers that sign `body`. Give `timestamp` from the hub's clock when it is not the real time
    (the local cloud's clock can be set); a fresh nonce is drawn when none is given.
    """
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    nonce = secrets.token_urlsafe(24) if nonce is None else nonce
    if not NONCE.match(nonce):
        raise ValueError("a nonce is 16-128 characters of A-Z a-z 0-9 _ -")
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, body, timestamp, nonce),
    }
    if connector_id is not None:
        headers = {CONNECTOR_HEADER: connector_id, **headers}
    return headers


def _refuse(code: str, detail: str = "", status: int = 401, zh: str | None = None) -> AuthRefused:
    return AuthRefused([problem(code, "", detail, detail_zh=zh)], status)


def _shown(value: str) -> str:
    """An unauthenticated value, cut short and stripped of anything odd before it is echoed back."""
    return re.sub(r"[^A-Za-z0-9_.-]", "?", value[:64])


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    connectors: ConnectorStore,
    nonces: NonceStore,
    now: datetime,
    path_connector_id: str | None = None,
) -> Connector:
    """The connector that signed this request, or `AuthRefused`. Header names are case-insensitive."""
    lowered = {name.lower(): value for name, value in headers.items()}
    values = {name: (lowered.get(name.lower()) or "").strip() for name in HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise _refuse("SIGNATURE_MISSING", f"no {', '.join(missing)}", zh=f"缺少 {'、'.join(missing)}")
    connector_id, timestamp, nonce, signed = (values[name] for name in HEADERS)
    if not _TIMESTAMP.match(timestamp):
        raise _refuse("SIGNATURE_MISSING", f"{TIMESTAMP_HEADER} must be unix seconds",
                      zh=f"{TIMESTAMP_HEADER} 应为 Unix 时间戳（秒）")  # fmt: skip
    if not NONCE.match(nonce):
        raise _refuse("SIGNATURE_MISSING", f"{NONCE_HEADER} must be 16-128 characters of A-Z a-z 0-9 _ -",
                      zh=f"{NONCE_HEADER} 应为 16-128 位，由字母、数字、_ 和 - 组成")  # fmt: skip
    if path_connector_id is not None and connector_id != path_connector_id:
        path_id, header_id = _shown(path_connector_id), _shown(connector_id)
        raise _refuse(
            "CONNECTOR_UNKNOWN",
            f"the path names {path_id} but {CONNECTOR_HEADER} is {header_id}",
            zh=f"路径中的接入方为 {path_id}，而 {CONNECTOR_HEADER} 为 {header_id}",
        )
    connector, copy = _read(connectors, connector_id)
    if connector is None:
        raise _refuse("CONNECTOR_UNKNOWN", _shown(connector_id))
    if not _HEX.match(signed):
        raise _refuse("SIGNATURE_INVALID")
    try:
        _check_signature(connector, body, timestamp, nonce, signed.lower(), now)
    except AuthRefused:
        if not copy:
            raise
        # a warm container's copy: the key may be newer than it (a rotation since), so the table decides
        connector = cast(CachedConnectorStore, connectors).read_fresh(connector_id)
        if connector is None:
            raise _refuse("CONNECTOR_UNKNOWN", _shown(connector_id)) from None
        _check_signature(connector, body, timestamp, nonce, signed.lower(), now)
    offset = int(timestamp) - now.timestamp()
    if abs(offset) > MAX_SKEW.total_seconds():
        where, where_zh = ("ahead of", "超前") if offset > 0 else ("behind", "落后")
        span = duration_zh(timedelta(seconds=abs(offset)))
        raise _refuse(
            "TIMESTAMP_EXPIRED", f"{abs(offset):.0f} s {where} the hub's clock", zh=f"比系统时间{where_zh} {span}"
        )
    if not connector.active:
        raise _refuse("CONNECTOR_DISABLED", status=403)
    if not nonces.remember(connector_id, nonce, now=now, ttl=NONCE_TTL):
        raise _refuse("NONCE_REUSED")
    return connector


def _read(connectors: ConnectorStore, connector_id: str) -> tuple[Connector | None, bool]:
    """The connector, and whether it is a warm container's copy (`CachedConnectorStore`) rather than a read."""
    if isinstance(connectors, CachedConnectorStore):
        return connectors.lookup(connector_id)
    return connectors.get(connector_id), False


def _check_signature(connector: Connector, body: bytes, timestamp: str, nonce: str, signed: str, now: datetime) -> None:
    if not hmac.compare_digest(signature(connector.secret, body, timestamp, nonce), signed):
        _check_previous_key(connector, body, timestamp, nonce, signed, now)


def _check_previous_key(
    connector: Connector, body: bytes, timestamp: str, nonce: str, signed: str, now: datetime
) -> None:
    """Passes for the secret a rotation replaced, inside its grace period; past it, 401 KEY_RETIRED (so the
    integrator knows to switch keys rather than hunt a bug in their signing). Anything else: SIGNATURE_INVALID."""
    previous, until = connector.previous_secret, connector.previous_valid_until
    if previous and until is not None and hmac.compare_digest(signature(previous, body, timestamp, nonce), signed):
        if now > until:
            raise _retired(until)
        return
    for old, retired_at in connector.retired:  # older rotations: never valid, but named for what they are
        if hmac.compare_digest(signature(old, body, timestamp, nonce), signed):
            raise _retired(retired_at)
    raise _refuse("SIGNATURE_INVALID")


def _retired(at: datetime) -> AuthRefused:
    return AuthRefused([problem("KEY_RETIRED", "", at.isoformat(timespec="seconds"), detail_zh=beijing_time(at))])


class DynamoNonceStore(NonceStore):
    """The template's NoncesTable: `pk={connector_id}#{nonce}`, TTL attribute `expires_at` (epoch s).

    DynamoDB deletes expired items only eventually, so an expired item counts as absent. Each call marks its
    item with a token of its own (`by`): when botocore sends the put again after a first attempt that was stored
    but answered late (a read timeout), the condition fails on the item that attempt wrote, and the token tells
    it apart from a replay — which used to answer a fresh request 401 NONCE_REUSED on a slow table.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def remember(self, connector_id: str, nonce: str, *, now: datetime, ttl: timedelta) -> bool:
        token = secrets.token_hex(8)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": f"{connector_id}#{nonce}"},
                    "expires_at": {"N": str(int((now + ttl).timestamp()))},
                    "by": {"S": token},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                stored: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
                return bool(stored.get("by", {}).get("S") == token)  # our own attempt, sent again
            raise
        return True
