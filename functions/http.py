"""What every API function shares: the body as sent, the reply shape, the request id.

Replies are JSON with Chinese kept readable; refusals are `{"errors": [problem, ...]}` (hub.errors).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

import orjson
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response

from hub.errors import Problem, Refused, problem
from hub.jsonbody import loads_object

MAX_BODY_BYTES = 1 << 20  # 1 MiB
JSON = "application/json; charset=utf-8"
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # refused by json.dumps too


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
        raise BadBody(413, problem("BODY_TOO_LARGE", "", f"{MAX_BODY_BYTES} bytes", detail_zh="1 MiB"))
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadBody(
                400,
                problem(
                    "BODY_MALFORMED", "", "isBase64Encoded, but not base64", detail_zh="声明为 base64 编码，内容却不是"
                ),
            ) from None
    else:
        body = raw.encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(413, problem("BODY_TOO_LARGE", "", f"{MAX_BODY_BYTES} bytes", detail_zh="1 MiB"))
    return body


def is_json(content_type: str | None) -> bool:
    """A JSON media type, or none declared (a body sent without Content-Type is read as JSON)."""
    mime = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return mime in ("application/json", "text/json") or mime.endswith("+json")


def json_object(
    event: dict[str, Any], what: str = "a JSON object", *, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body of a JSON route as one object, read as every route reads it (docs/signing.md, "Refusals"):
    415 CONTENT_TYPE_UNSUPPORTED for a body declared as something else, 400 BODY_MALFORMED for one that is
    not JSON, writes a key twice or is not an object. An empty body is `empty` when the route allows one."""
    raw = body_of(event)
    if empty is not None and not raw.strip():
        return empty
    content_type = header(event, "content-type")
    if not is_json(content_type):
        mime = (content_type or "").split(";", 1)[0].strip()[:60]
        raise BadBody(
            415,
            problem(
                "CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; this route reads JSON", detail_zh=f"{mime}；该接口只接受 JSON"
            ),
        )
    if not raw.strip():
        raise BadBody(400, problem("BODY_EMPTY", ""))
    try:
        return loads_object(raw.removeprefix(b"\xef\xbb\xbf"), what)
    except Refused as exc:
        raise BadBody(400, exc.problems[0]) from None


def status_of(problems: list[Problem], default: int = 400) -> int:
    """One status per kind of refusal: 415 a media type, 413 a size, 400 a body, 422 an unknown field."""
    codes = {p.code for p in problems}
    if "CONTENT_TYPE_UNSUPPORTED" in codes:
        return 415
    if codes & {"BODY_TOO_LARGE", "BATCH_TOO_LARGE"}:
        return 413
    if any(code.startswith("BODY_") for code in codes):
        return 400
    if codes == {"FIELD_UNKNOWN"}:
        return 422
    return default


def header(event: dict[str, Any], name: str) -> str | None:
    """A request header, by case-insensitive name."""
    wanted = name.lower()
    return next((v for k, v in (event.get("headers") or {}).items() if k.lower() == wanted), None)


def request_id(app: APIGatewayRestResolver) -> str:
    found = (app.current_event.raw_event.get("requestContext") or {}).get("requestId")
    if not found and app.lambda_context is not None:
        found = getattr(app.lambda_context, "aws_request_id", None)
    return str(found or uuid.uuid4())


def reply(status: int, data: dict[str, Any]) -> Response[str]:
    return Response(status, JSON, dumps(data))


def dumps(data: Any) -> str:
    """Compact JSON with Chinese as is: orjson (~5x faster than `json.dumps`, issue 15 item 3), the same text
    for the answers' strings, ints, lists and dicts; what orjson refuses (an int beyond 64 bits, a lone
    surrogate, a key not a string, a datetime) goes to `json.dumps` as before. A float below 1e-4 reads
    `0.00001`, not `1e-05` (the same number); NaN and Infinity are null (json.dumps wrote invalid JSON)."""
    try:
        return orjson.dumps(data, option=_ORJSON_STRICT).decode()
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def errors(status: int, problems: list[Problem]) -> Response[str]:
    return reply(status, {"errors": [p.as_dict() for p in problems]})
