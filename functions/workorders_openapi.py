"""The OpenAPI description of the work-order routes: their responses, the command body, the document itself
(GET /v1/work-orders/openapi.json, merged into the hub's by functions.openapi_doc), built when first asked for."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver

from hub.workorders import COMMAND_ADAPTER, WorkOrder

BEARER = [{"CognitoAuthorizer": []}]
ERROR = {"description": "refused: `errors`, each with code, path, message, message_zh, rule",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}  # fmt: skip
ORDER = {"description": "the order with its whole history, its open deadlines and what is overdue now",
         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkOrder"}}}}  # fmt: skip
LIST = {"description": "a page of order summaries, newest dispatch first, and the next page's cursor",
        "content": {"application/json": {"schema": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object"}},
            "next_cursor": {"type": ["string", "null"]}}}}}}  # fmt: skip
ACTED = {"description": "the order after the action, and the event it recorded",
         "content": {"application/json": {"schema": {"type": "object", "properties": {
             "order": {"$ref": "#/components/schemas/WorkOrder"}, "event": {"type": "object"}}}}}}  # fmt: skip
COMMAND_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Command"},
    "examples": {
        "classify": {"value": {"action": "classify", "kind": "complex"}},
        "extension": {"value": {"action": "request_extension", "reason": "需协调市级部门调整系统",
                                "until": "2026-10-30", "document_ref": "赣县政务〔2026〕12号", "expected_version": 2}},
        "visit": {"value": {"action": "record_follow_up_visit", "visitor_name": "李专员", "method": "phone",
                            "note": "评价人确认已整改"}},
    }}}}}  # fmt: skip
LIST_DESCRIPTION = (
    "A department its agencies' orders; management its region's (a county its townships', R18); operators and "
    "region-less auditors all. Filters: status, overdue=true (a binding deadline has passed), due_before (ISO time "
    "or date), unit (agency code), region (division code); limit (1-100) and cursor."
)
ACT_DESCRIPTION = (
    'One command, e.g. {"action": "classify", "kind": "simple"}, {"action": "request_extension", "reason": ..., '
    '"until": "2026-10-30"}; `expected_version` (optional) refuses the action if the order changed since it was '
    "read (409 VERSION_CONFLICT)."
)
_DOC = {"tags": ["work orders"], "security": BEARER}
LIST_ROUTE: dict[str, Any] = {
    **_DOC,
    "summary": "List the work orders you may see",
    "description": LIST_DESCRIPTION,
    "operation_id": "listWorkOrders",
    "responses": {200: LIST, 400: ERROR, 401: ERROR, 403: ERROR, 422: ERROR},
}
GET_ROUTE: dict[str, Any] = {
    **_DOC,
    "summary": "One work order with its whole history",
    "operation_id": "getWorkOrder",
    "responses": {200: ORDER, 401: ERROR, 403: ERROR, 404: ERROR},
}
ACT_ROUTE: dict[str, Any] = {
    **_DOC,
    "summary": "Act on a work order",
    "description": ACT_DESCRIPTION,
    "operation_id": "actOnWorkOrder",
    "openapi_extensions": COMMAND_BODY,
    "responses": {200: ACTED, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 422: ERROR},
}
"""The keyword arguments of each route's decorator: what the document says of it."""

_document: list[str] = []


def openapi_document(app: APIGatewayRestResolver) -> str:
    if not _document:
        _document.append(_openapi(app))
    return _document[0]


def _openapi(app: APIGatewayRestResolver) -> str:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    bearer = HTTPBearer(bearerFormat="JWT", description="the Cognito ID token of a person (docs/people.md)")
    document = json.loads(
        app.get_openapi_json_schema(
            title="hcp-hub work-order API",
            version="1",
            description="Bad-rating work orders (差评工单, R10-R18): list, read, act, by role and scope. "
            "See docs/workorders.md.",
            security_schemes={"CognitoAuthorizer": bearer},
        )
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    order = WorkOrder.model_json_schema(mode="serialization", ref_template=template)
    command = COMMAND_ADAPTER.json_schema(ref_template=template)
    for part in (order, command):
        schemas.update(part.pop("$defs", {}))
    command["description"] = "one command; `expected_version` (optional) alongside its fields"
    schemas["WorkOrder"], schemas["Command"] = order, command
    problem_schema: dict[str, Any] = {"type": "object", "required": ["code", "path", "message", "message_zh"],
        "properties": {name: {"type": "string"} for name in ("code", "path", "message", "message_zh")} | {
        "rule": {"type": ["string", "null"]}}}  # fmt: skip
    schemas["Errors"] = {"type": "object", "properties": {"errors": {"type": "array", "items": problem_schema}}}
    return json.dumps(document, ensure_ascii=False, indent=2)
