"""The registry function's HTTP contract: its requests read — bodies as the schemas take them
(schemas/connector-*.json), a spec as its department wrote it, a sample in any charset, a grace period; each
refusal a `hub.errors.Refused` — and its answers as the OpenAPI document describes them."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver
from pydantic import BaseModel, ValidationError

from functions.http import json_object
from hub.errors import Problem, Refused, problem
from hub.registry import DEFAULT_GRACE, ChangeBody, Registration, RegistrationBody
from hub.validation import problems_from

_GRACE = re.compile(r"^([0-9]{1,6})([smhd]?)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}
TITLE = "hcp-hub connector registry"
DESCRIPTION = "Departments register and manage their connectors (docs/connectors.md)."
# what a warm ingest function's copy of a connector (infra.connector_store.CachedConnectorStore) holds back
TAKES_EFFECT = (
    "Each warm ingest instance keeps a connector it read for at most 30 s. A new key works at once (a signature "
    "refused by the copy is checked against a fresh read); disabling, and the older key a second rotation retires, "
    "take effect within 30 s (docs/signing.md, 'When a change takes effect')."
)
KEEP_THE_SECRET = (
    "Keep this secret now: it is shown this once and never again (a lost one is replaced by rotating). "
    "请立即妥善保存该密钥：仅显示这一次，遗失后只能轮换获取新密钥。"
)


def registration(app: APIGatewayRestResolver) -> Registration:
    data = json_body(app, RegistrationBody)
    spec = spec_text(data.get("spec"))
    return Registration(
        name=str(data.get("name") or spec_name(spec) or data.get("kind") or ""), kind=data.get("kind"), spec=spec,
        settings=data.get("settings") or {}, owner_agency=data.get("owner_agency"),
        agencies=list_of(data, "agencies"), regions=list_of(data, "regions"), department=data.get("department"),
        sample=sample(data), sample_content_type=data.get("sample_content_type"),
    )  # fmt: skip


def changes(app: APIGatewayRestResolver) -> dict[str, Any]:
    data = json_body(app, ChangeBody)
    found = {k: v for k, v in data.items() if k not in ("sample", "sample_base64")}
    if "spec" in found:
        found["spec"] = spec_text(found["spec"])
    if "sample" in data or "sample_base64" in data:
        found["sample"] = sample(data)
    return found


def json_body(app: APIGatewayRestResolver, model: type[BaseModel]) -> dict[str, Any]:
    """The body as `model` (schemas/connector-*.json) takes it: a field it does not have is FIELD_UNKNOWN."""
    data = json_object(app.current_event.raw_event, empty={})
    unknown = [p for p in _validated(model, data) if p.code == "FIELD_UNKNOWN"]
    if unknown:
        raise Refused(unknown)
    return data


def _validated(model: type[BaseModel], data: dict[str, Any]) -> list[Problem]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return problems_from(exc, model=model)
    return []


def spec_text(value: Any) -> str | None:
    """The spec as its department wrote it (the lines of problems point into it); an object is pretty-printed."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2)
    zh = "应为接入规范的文本（JSON 或 YAML）或一个 JSON 对象"
    raise Refused([problem("FIELD_INVALID", "spec", "the spec's text (JSON or YAML), or a JSON object", detail_zh=zh)])


def spec_name(spec: str | None) -> str | None:
    """A connector registered without a name is called what its spec calls the source."""
    from connectors.spec_loader import SpecInvalid, parse_spec

    if not spec:
        return None
    try:
        loaded = parse_spec(spec).spec
    except SpecInvalid:
        return None  # the registry's own check answers with every problem and its line
    return loaded.name or loaded.kind


def list_of(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name) or ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise Refused([problem("FIELD_INVALID", name, "a list", detail_zh="应为列表")])
    return tuple(str(v) for v in value)


def sample(data: dict[str, Any]) -> bytes | None:
    """`sample_base64` (the bytes as the source sends them, any charset), or `sample` (text or JSON)."""
    if data.get("sample_base64") is not None:
        try:
            return base64.b64decode(str(data["sample_base64"]), validate=True)
        except (binascii.Error, ValueError):
            bad = problem("FIELD_INVALID", "sample_base64", "not base64", detail_zh="不是 base64 编码")
            raise Refused([bad]) from None
    given = data.get("sample")
    if given is None:
        return None
    if isinstance(given, dict | list):
        return json.dumps(given, ensure_ascii=False).encode()
    return str(given).encode(str(data.get("sample_charset") or "utf-8"), errors="strict")


def grace(text: str | None) -> timedelta:
    if not text:
        return DEFAULT_GRACE
    found = _GRACE.match(text.strip())
    if not found:
        english = f"{text[:20]!r}: a number with s, m, h or d (24h, 0s)"
        zh = f"{text[:20]!r}：应为数字加单位 s、m、h 或 d（如 24h、0s）"
        raise Refused([problem("FIELD_INVALID", "grace", english, detail_zh=zh)])
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


REFUSALS = {
    400: {"description": "BODY_MALFORMED (not JSON, a key twice, not an object), FIELD_INVALID, USCC_INVALID, "
                         "SCOPE_INVALID (a region prefix)"},
    415: {"description": "CONTENT_TYPE_UNSUPPORTED: the body is JSON"},
    401: {"description": "TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED: sign in"},
    403: {"description": "FORBIDDEN (not yours, or not your role), SCOPE_INVALID (an agency not yours)"},
    404: {"description": "CONNECTOR_NOT_FOUND"},
    409: {"description": "CONNECTOR_CHANGED: changed by someone else meanwhile (two rotations at once); read, retry"},
    422: {"description": "SPEC_* (each with line and column), KIND_UNKNOWN, FIELD_UNKNOWN (a field "
                         "schemas/connector-registration.json or connector-change.json does not have)"},
}  # fmt: skip
DOC = {
    status: {"tags": ["registry"], "security": [{"CognitoAuthorizer": []}],
             "responses": {status: {"description": "see docs/connectors.md §11"}, **REFUSALS}}
    for status in (200, 201)
}  # fmt: skip
