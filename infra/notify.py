"""Work-order notices out through one SNS topic (`WorkOrderTopic`); the fake is `infra.memory.InMemoryNotifier`.

Each message is the notice's JSON body with four message attributes a department's subscription filters
on — `audience` (unit, managing_department, escalation, rater), `region_code`, `agency_code` (unit and
rater notices) and `event_type` — plus `key`, by which a subscriber drops a repeat (publishing is at
least once). A county management department subscribes with, e.g.,
`{"audience": ["managing_department", "escalation"], "region_code": ["360704000000"]}`.

Nothing personal goes out (R20): the notice holds ids, codes, deadlines and the event type only.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from hub.outcomes import Notice
from hub.ports import Notifier
from infra.memory import InMemoryNotifier  # noqa: F401  (the fake moved beside the others; old imports work)


class SnsNotifier(Notifier):
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def publish(self, notice: Notice) -> str:
        attributes = {name: {"DataType": "String", "StringValue": value} for name, value in notice.attributes().items()}
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=f"hcp-hub {notice.event_type}",
            Message=json.dumps(notice.body(), ensure_ascii=False, sort_keys=True),
            MessageAttributes=attributes,
        )
        return str(response["MessageId"])


def published_on_moto(endpoint: str, topic_arn: str | None = None, timeout: float = 10) -> list[dict[str, Any]]:
    """What a moto server's SNS topics were sent (moto keeps every message; `/moto-api/data.json` lists them).

    Each: `{"topic_arn", "message_id", "message" (parsed JSON when it is), "subject", "attributes"}`.
    """
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=timeout) as response:
        data = json.loads(response.read())
    out = []
    for topic in data.get("sns", {}).get("Topic", []):
        if topic_arn is not None and topic.get("arn") != topic_arn:
            continue
        for message_id, message, subject, attributes, _group in topic.get("sent_notifications", []):
            try:
                body: Any = json.loads(message)
            except ValueError:
                body = message
            flat = {k: v.get("StringValue", v.get("Value")) for k, v in (attributes or {}).items()}
            out.append(
                {
                    "topic_arn": topic.get("arn"),
                    "message_id": message_id,
                    "message": body,
                    "subject": subject,
                    "attributes": flat,
                }
            )
    return out
