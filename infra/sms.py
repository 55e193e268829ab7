"""SMS out (R7): Amazon SNS by default, or a provincial SMS gateway over HTTP.

`sms_sender` picks one: `SMS_GATEWAY_URL` set → `HttpSmsGateway` (many provinces run a
government SMS platform, and SNS does not deliver SMS in the AWS China regions); unset → `SnsSmsSender`
(moto records what it "sends", so the local cloud can show it). Neither logs a number or a text, and
an `SmsFailed` carries only a status or error code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError

from hub.ports import SmsFailed, SmsSender


class SnsSmsSender(SmsSender):
    """`sns:Publish` to a phone number (E.164), transactional: reminders are not marketing."""

    channel = "sns"

    def __init__(self, client: Any, *, sender_id: str | None = None) -> None:
        self._client = client
        self._attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        }
        if sender_id:
            self._attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}

    def send(self, phone: str, text: str) -> str:
        try:
            response = self._client.publish(PhoneNumber=f"+86{phone}", Message=text, MessageAttributes=self._attributes)
        except ClientError as exc:
            raise SmsFailed(f"SNS {exc.response.get('Error', {}).get('Code', 'error')}") from None
        except BotoCoreError as exc:
            raise SmsFailed(f"SNS {type(exc).__name__}") from None
        return str(response["MessageId"])


class HttpSmsGateway(SmsSender):
    """POST `{"mobile": ..., "content": ..., "requestId": ...}` (names configurable) to the gateway's
    URL; a 2xx answer is success, its `msgId` (if any) the message id. Anything else is `SmsFailed`."""

    channel = "gateway"

    def __init__(
        self,
        url: str,
        *,
        fields: Mapping[str, str] | None = None,
        message_id_field: str = "msgId",
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (2.0, 5.0),
    ) -> None:
        self.url = url
        self._fields = {"phone": "mobile", "text": "content", "request_id": "requestId", **(fields or {})}
        self._message_id_field = message_id_field
        self._headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        self._pool = urllib3.PoolManager(
            retries=urllib3.Retry(total=0, raise_on_status=False),
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
        )

    def send(self, phone: str, text: str) -> str:
        request_id = uuid.uuid4().hex
        body = {self._fields["phone"]: phone, self._fields["text"]: text, self._fields["request_id"]: request_id}
        try:
            response = self._pool.request(
                "POST", self.url, body=json.dumps(body, ensure_ascii=False).encode(), headers=self._headers
            )
        except HTTPError as exc:
            raise SmsFailed(f"gateway {type(exc).__name__}") from None
        if not 200 <= response.status < 300:
            raise SmsFailed(f"gateway HTTP {response.status}")
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            answer = {}
        message_id = answer.get(self._message_id_field) if isinstance(answer, dict) else None
        return str(message_id or request_id)


def sms_sender(sns_client: Any, gateway_url: str = "", sender_id: str = "") -> SmsSender:
    """`SMS_GATEWAY_URL` set (SchedulerSettings.sms_gateway_url): the HTTP gateway, else SNS."""
    url = gateway_url.strip()
    if url:
        return HttpSmsGateway(url)
    return SnsSmsSender(sns_client, sender_id=sender_id.strip() or None)
