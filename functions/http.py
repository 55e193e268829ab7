"""What every API function shares: the body as sent, the reply shape, the request id.

Replies are JSON with Chinese kept readable; refusals are `{"errors": [problem, ...]}` (hub.errors).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from hub.errors import Problem, problem

MAX_BODY_BYTES = 1 << 20  # 1 MiB
JSON = "application/json; charset=utf-8"


class BadBody(Exception):
    def __init__(self, status: int, problem_: Problem) -> None:
        self.status = status
        self.problem = problem_


def body_of(event: dict[str, Any]) -> bytes:
    """The bytes the client sent. The template makes every media type binary, so API Gateway passes
    the body base64-encoded and byte-exact; a body it did pass as text is UTF-8 by then.
    """
    raw = event.get("body") or ""
    if len(raw) > 2 * MAX_BODY_BYTES:  # checked before decoding anything huge
        raise BadBody(413, problem("BODY_TOO_LARGE", "", f"{MAX_BODY_BYTES} bytes"))
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadBody(400, problem("BODY_MALFORMED", "", "isBase64Encoded, but not base64")) from None
    else:
        body = raw.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(413, problem("BODY_TOO_LARGE", "", f"{MAX_BODY_BYTES} bytes"))
    return body


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header, by case-insensitive name."""
    wanted = name.lower()
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == wanted), None)


def request_id(app: APIGatewayRestResolver) -> str:
    found = (app.current_event.raw_event.get("requestContext") or {}).get("requestId")
    if not found and app.lambda_context is not None:
        found = getattr(app.lambda_context, "aws_request_id", None)
    return str(found or uuid.uuid4())


def reply(status: int, data: dict[str, Any]) -> Response:
    return Response(status, JSON, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def errors(status: int, problems: list[Problem]) -> Response:
    return reply(status, {"errors": [p.as_dict() for p in problems]})
