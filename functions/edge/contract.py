"""Ingest's HTTP contract as models, for the OpenAPI document: the replies are built by hub.ingest and
hub.case_intake, and the function tests check every reply against these models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.http import MAX_BODY_BYTES

MAX_ITEMS = 100
# the signing headers, each an OpenAPI security scheme (functions.openapi_doc)
SCHEMES = ("HcpConnector", "HcpTimestamp", "HcpNonce", "HcpSignature")
SIGNED: list[dict[str, list[str]]] = [{name: [] for name in SCHEMES}]

# Built when the OpenAPI document is (or a test validates a reply), not at import.
_DOCUMENTATION = ConfigDict(defer_build=True)


class Error(BaseModel):
    """One refusal: a stable code, the field, messages in English and Chinese."""

    model_config = _DOCUMENTATION

    code: str = Field(description="stable machine code", examples=["BAD_RATING_WITHOUT_REASON"])
    path: str = Field(description="the unified field path; empty for the whole body or request")
    message: str
    message_zh: str
    rule: str | None = Field(default=None, description="the rule of the regulation (R1-R20), when one applies")
    source_path: str | None = Field(default=None, description="the field in the source's own payload")


class ItemResult(BaseModel):
    model_config = _DOCUMENTATION

    index: int = Field(description="the item's position in the body, from 0")
    outcome: Literal["accepted", "duplicate", "conflict", "rejected"] = Field(
        description="accepted: stored and queued for the province; duplicate: this very rating was accepted "
        "before; conflict: its source id or its case is taken by another rating, which stays; rejected: see errors"
    )
    rating_id: str | None = Field(default=None, description="the hub's id, deterministic from connector and source id")
    source_rating_id: str | None = None
    errors: list[Error] = Field(default_factory=list)


class CaseItemResult(BaseModel):
    model_config = _DOCUMENTATION

    index: int = Field(description="the notice's position in the body, from 0")
    outcome: Literal["accepted", "duplicate", "rejected"] = Field(
        description="accepted: the window is open and its reminders scheduled (or, for a notice carrying its "
        "rating, the rating is stored and queued); duplicate: this very notice was accepted before; rejected: "
        "see errors (CASE_ALREADY_RATED: the case holds a rating, a default one included)"
    )
    case_key: str | None = Field(default=None, description="agency code / case number / step")
    rating_id: str | None = Field(default=None, description="the embedded rating's id, when the notice carried one")
    closes_at: str | None = Field(default=None, description="when the rating window closes (R5), with its offset")
    provisional: bool | None = Field(
        default=None,
        description="closes_at was counted through a year without a published calendar (Monday-Friday assumed); "
        "it is recomputed when an operator loads that year's notice",
    )
    reminder: Literal["scheduled", "skipped"] | None = Field(
        default=None, description="skipped: no mobile number to remind (see warnings)"
    )
    errors: list[Error] = Field(default_factory=list)
    warnings: list[Error] = Field(
        default_factory=list, description="accepted, with something to fix (PHONE_NOT_MOBILE, NO_PHONE)"
    )


class CaseAnswer(BaseModel):
    model_config = _DOCUMENTATION

    results: list[CaseItemResult]


class CalendarAnswer(BaseModel):
    model_config = _DOCUMENTATION

    year: int
    title: str
    forced: bool
    recomputed: int = Field(description="rating windows recounted with the notice, now")
    remaining: bool = Field(description="more windows wait; the scheduler recounts them within minutes")
    windows: list[dict[str, Any]] = Field(description="the first 100 recounted: case_key, closes_at, provisional")


class IngestAnswer(BaseModel):
    model_config = _DOCUMENTATION

    results: list[ItemResult]


class RefusalAnswer(BaseModel):
    model_config = _DOCUMENTATION

    errors: list[Error]


def refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": RefusalAnswer}}}


RESPONSES: dict[int, Any] = {
    202: {
        "description": "One result per item, by index (at least one not rejected)",
        "content": {"application/json": {"model": IngestAnswer}},
    },
    422: {
        "description": "Every item was rejected: the same per-item results, each with its errors",
        "content": {"application/json": {"model": IngestAnswer}},
    },
    400: refusal(
        "BODY_MALFORMED (not JSON, a duplicate key, not an object or a list of objects), BODY_EMPTY, "
        "BODY_UNDECODABLE: the body cannot be taken as a whole. No rating is stored; the signed body is archived "
        "(encrypted) for audit, see docs/signing.md"
    ),
    401: refusal(
        "SIGNATURE_MISSING, SIGNATURE_INVALID, KEY_RETIRED, TIMESTAMP_EXPIRED, NONCE_REUSED, CONNECTOR_UNKNOWN"
    ),
    403: refusal(
        "CONNECTOR_DISABLED; CONNECTOR_OUT_OF_SCOPE (an item for an agency or region the connector may "
        "not rate for: nothing of the request is kept)"
    ),
    413: refusal(f"BODY_TOO_LARGE (over {MAX_BODY_BYTES} bytes) or BATCH_TOO_LARGE (over {MAX_ITEMS} items)"),
    415: refusal("CONTENT_TYPE_UNSUPPORTED: not a format this connector reads (the unified route: JSON only)"),
    500: refusal("INTERNAL_ERROR: send again later; what was accepted is kept, a re-post is a duplicate"),
    503: refusal("HUB_BUSY: AWS did not answer in time; send the same ratings again after Retry-After seconds "
                 "(each one this request stored is answered duplicate with its rating id)"),
}
CASE_RESPONSES: dict[int, Any] = {
    **RESPONSES,
    202: {"description": "One result per notice, by index (at least one not rejected)",
          "content": {"application/json": {"model": CaseAnswer}}},
    422: {"description": "Every notice was rejected", "content": {"application/json": {"model": CaseAnswer}}},
}  # fmt: skip
NOTICE_RESPONSES: dict[int, Any] = {
    200: {"description": "Loaded; what was recomputed", "content": {"application/json": {"model": CalendarAnswer}}},
    **{status: RESPONSES[status] for status in (400, 401, 413, 500)},
    415: refusal("CONTENT_TYPE_UNSUPPORTED: a notice is JSON"),
    403: refusal("CONNECTOR_DISABLED, or OPERATOR_ONLY: not an operator credential"),
    422: refusal("NOTICE_INVALID (one error per problem of the file), FIELD_UNKNOWN (at its path) or NOTICE_REFUSED"),
}  # fmt: skip
