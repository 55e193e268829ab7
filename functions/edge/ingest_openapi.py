"""Ingest's OpenAPI description: its request examples, the routes' descriptions, and its document (the whole
hub's is `functions.openapi_doc.hub_document`). Imported when a document is first asked for."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from functions.edge.contract import MAX_ITEMS
from functions.http import MAX_BODY_BYTES

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver

SOURCE_EXAMPLES = {
    "application/json": {
        "schema": {"description": "the source family's own JSON (see connectors/specs/{kind}.json)"},
        "examples": {
            "vertical_system": {
                "summary": "a vertical system, national field names",
                "value": {"params": {"projectNo": "GX2026112700045", "deptCode": "11360704MB1C000102",
                                     "areaCode": "360704", "pf": "1", "satisfaction": "2",
                                     "evalDetail": "ITEM_MATERIALS", "assessTime": "2026-11-28 10:21:33",
                                     "handleTime": "2026-11-27 16:02:11", "assessNumber": "1"}},
            }
        },
    },
    "application/xml": {
        "schema": {"type": "string", "description": "XML, in the charset its declaration or Content-Type names"},
        "example": '<?xml version="1.0" encoding="GBK"?><evaluation><projectNo>GX2026112700046</projectNo>'
        "<satisfaction>5</satisfaction>...</evaluation>",
    },
    "application/x-www-form-urlencoded": {
        "schema": {"type": "string", "description": "a form, e.g. a window device's, percent-encoded GBK"},
        "example": "biz=GX2026112800051&dept=11360704MB1C000102&area=360704000000&key=5&reason=03%2C07"
        "&t=20261128102233&served=20261128100510",
    },
}  # fmt: skip
UNIFIED_EXAMPLE: dict[str, Any] = {
    "source_rating_id": "WEB-2026-0001",
    "case": {"case_no": "GX2026112700045", "service_code": "11360704MB1C000102-4000111000",
             "handled_at": "2026-11-27T16:02:11+08:00"},
    "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
    "channel": "web", "grade": "dissatisfied", "tags": ["ITEM_MATERIALS"], "comment": "材料要求重复提交",
    "rater": {"type": "person", "phone": "13907970001", "real_name": True},
    "rated_at": "2026-11-28T10:21:33+08:00",
}  # fmt: skip
UNIFIED_BODY = {
    "required": True,
    "description": f"One rating, or a list of up to {MAX_ITEMS}; times are ISO 8601 with their offset",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/UnifiedRating"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/UnifiedRating"}, "maxItems": MAX_ITEMS},
                ]
            },
            "examples": {
                "one": {"summary": "one rating", "value": UNIFIED_EXAMPLE},
                "batch": {"summary": "a batch", "value": [UNIFIED_EXAMPLE, {**UNIFIED_EXAMPLE, "source_rating_id":
                          "WEB-2026-0002", "grade": "satisfied", "tags": [], "comment": None}]},
            },
        }
    },
}  # fmt: skip
DESCRIPTION = (
    "Ratings from every source into the hub. Every request is signed by its connector: "
    "`X-Hcp-Signature` = lowercase hex HMAC-SHA256(secret, `{timestamp}\\n{nonce}\\n` + body), with "
    "`X-Hcp-Connector`, `X-Hcp-Timestamp` (unix seconds, within 5 minutes of the hub's clock) and "
    "`X-Hcp-Nonce` (16-128 characters of A-Z a-z 0-9 _ -, used once). See docs/signing.md. "
    f"Bodies up to {MAX_BODY_BYTES} bytes and {MAX_ITEMS} ratings. The answer has one result per item, by "
    "index: 202, or 422 when every item was rejected."
)

SOURCE_ROUTE = (
    "The body exactly as the source produces it (JSON, XML or form; the charset from Content-Type or the XML "
    "declaration, else the family's default). X-Hcp-Connector must be the connector of the path."
)
CASE_ROUTE = (
    "One notice or a list of up to 100 (schemas/case.json). A notice carrying its rating is handled as that "
    "rating; one without opens the rating window (R5) and schedules the SMS reminders (R7) and the default "
    "rating (R6). Signed like ratings."
)
NOTICE_ROUTE = (
    "The State Council's notice for a year the official calendar does not cover, as "
    "schemas/calendar-notice.json. Every rating window counted without it is recomputed. A year the official "
    "calendar covers is refused (NOTICE_REFUSED) unless `?force=true`. Signed by an operator connector."
)


def ingest_document(app: APIGatewayRestResolver, base: str = "") -> str:
    """Ingest's routes, its signing headers as security schemes, and the unified rating's schema (the hub's
    model, `hub.rating.RatingBody`)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    from hub.rating import RatingBody
    from infra.signing import HEADERS

    def header(name: str, description: str) -> APIKey:
        scheme = {"type": "apiKey", "in": APIKeyIn.header, "name": name, "description": description}
        return APIKey.model_validate(scheme)

    schemes = dict(zip(("HcpConnector", "HcpTimestamp", "HcpNonce", "HcpSignature"), (
        header(HEADERS[0], "the connector's id"),
        header(HEADERS[1], "unix seconds; within 5 minutes of the hub's clock"),
        header(HEADERS[2], "16-128 characters of A-Z a-z 0-9 _ -, never used twice"),
        header(HEADERS[3], "lowercase hex HMAC-SHA256(secret, timestamp + '\\n' + nonce + '\\n' + body)"),
    ), strict=True))  # fmt: skip
    document = json.loads(app.get_openapi_json_schema(
        title="hcp-hub ingest API", version="1", description=DESCRIPTION, servers=[Server(url=base or "/")],
        security_schemes=schemes,  # type: ignore[arg-type]
    ))  # fmt: skip
    unified = RatingBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(unified.pop("$defs", {}))
    unified["title"] = "UnifiedRating"
    unified["description"] = (
        "A rating in the hub's own field names, with the source's id for it. target.level is derived from "
        "region_code (R3); rating_id and source are assigned by the hub."
    )
    unified["properties"] = {
        "source_rating_id": {"type": "string", "minLength": 1, "description": "the rating's id at the source"},
        **unified["properties"],
    }
    unified["required"] = ["source_rating_id", *unified.get("required", [])]
    schemas["UnifiedRating"] = unified
    return json.dumps(document, ensure_ascii=False, indent=2)
