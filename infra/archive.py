"""The raw bytes each source sent, in S3 (the template's RawPayloadBucket: versioned, KMS-encrypted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from hub.ports import RawArchive, archive_key


class S3RawArchive(RawArchive):
    """Keys `raw/{connector_id}/{yyyy}/{mm}/{dd}/{request_id}`, the day in China; the body byte-exact.

    Objects are stored as opaque bytes (`application/octet-stream`), with the source's content type in
    the metadata: nothing should interpret an archived body (and moto drops a body stored as a form).
    The metadata names only the connector, the request and the type: the body may hold personal data
    (R20), the metadata must not.
    """

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(
        self, connector_id: str, request_id: str, body: bytes, content_type: str | None, received_at: datetime
    ) -> str:
        key = archive_key(connector_id, request_id, received_at)
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType="application/octet-stream",
            Metadata={
                "connector-id": connector_id,
                "request-id": _ascii(request_id),
                "source-content-type": _ascii(content_type or ""),
            },
        )
        return key

    def get(self, key: str) -> tuple[bytes, str | None]:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise
        body: bytes = response["Body"].read()
        return body, response.get("Metadata", {}).get("source-content-type") or None


def _ascii(value: str) -> str:
    """S3 metadata travels in HTTP headers: printable ASCII only."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in value[:256])
