"""The published contracts: which model stands behind which file in `schemas/`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.case_notice import CaseNotice
from hub.rating import Rating, UnifiedRating
from hub.registry import ChangeBody, RegistrationBody
from hub.reports.document import ReportDocument
from hub.tags import TAGS


def tag_dictionary() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "评价标签字典 (tag dictionary, 第九条)",
        "description": "One code per dimension of 第九条; a label that matches nothing becomes OTHER.",
        "tags": [
            {
                "code": tag.code.value,
                "dimension_zh": tag.dimension_zh,
                "dimension": tag.dimension,
                "negative_zh": tag.negative_zh,
                "positive_zh": tag.positive_zh,
            }
            for tag in TAGS
        ],
    }


def model_schema(model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode)  # type: ignore[arg-type]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


HUB_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "rating.json": (Rating, "serialization"),
    "case.json": (CaseNotice, "validation"),
    # request bodies, as they are validated (additionalProperties false: an unknown field is FIELD_UNKNOWN)
    "unified-rating.json": (UnifiedRating, "validation"),
    "connector-registration.json": (RegistrationBody, "validation"),
    "connector-change.json": (ChangeBody, "validation"),
    "report.json": (ReportDocument, "serialization"),  # R19: what a composed 通报 publishes
}
