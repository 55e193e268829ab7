"""Where the scheduled reports go (ReportsBucket: versioned, KMS-encrypted, public access blocked), and the
notice that one is ready (the work-order topic, `event_type` ReportReady, `audience` managing_department).

The notice carries the period, the scope's code and the objects' keys: no figure, no name (R20).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from typing import Any

from hub.reports.document import ReportDocument


class ReportArchive(ABC):
    @abstractmethod
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The object's current version, None when there is none."""


class S3ReportArchive(ReportArchive):
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        # the bucket's default encryption (SSE-KMS under DataKey) applies; no per-object override
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self._client.exceptions.NoSuchKey:
            return None


class InMemoryReportArchive(ReportArchive):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        with self._lock:
            self.objects[key] = (body, content_type)
            self.versions[key] = self.versions.get(key, 0) + 1

    def get(self, key: str) -> bytes | None:
        found = self.objects.get(key)
        return None if found is None else found[0]


class ReportNotifier(ABC):
    @abstractmethod
    def report_ready(self, document: ReportDocument, keys: list[str]) -> None: ...


def ready_message(document: ReportDocument, keys: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The notice's body and its message attributes (what a management subscription filters on)."""
    scope = document.scope
    region = scope.region_code or ""
    body = {"event_type": "ReportReady", "period": document.period, "period_kind": document.period_kind.value,
            "region_code": scope.region_code, "agency_code": scope.agency_code, "name_zh": scope.name_zh,
            "keys": keys, "at": document.generated_at.isoformat()}  # fmt: skip
    attributes = {"audience": "managing_department", "event_type": "ReportReady",
                  "key": f"report:{document.period}:{region or scope.agency_code}"}  # fmt: skip
    if region:
        attributes["region_code"] = region
    if scope.agency_code:
        attributes["agency_code"] = scope.agency_code
    return body, attributes


class SnsReportNotifier(ReportNotifier):
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def report_ready(self, document: ReportDocument, keys: list[str]) -> None:
        body, attributes = ready_message(document, keys)
        self._client.publish(
            TopicArn=self.topic_arn, Subject=f"hcp-hub ReportReady {document.period}",
            Message=json.dumps(body, ensure_ascii=False, sort_keys=True),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )  # fmt: skip


class InMemoryReportNotifier(ReportNotifier):
    def __init__(self) -> None:
        self.published: list[tuple[dict[str, Any], dict[str, str]]] = []

    def report_ready(self, document: ReportDocument, keys: list[str]) -> None:
        self.published.append(ready_message(document, keys))
