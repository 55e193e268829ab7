"""The connector spec: how to read one source's payload, declared as data.

Built-in families are specs shipped in `connectors/specs/`; a department registers its own the same
way. Per-connector settings (code tables, label tables, time formats) are overrides of a spec.
"""

from __future__ import annotations

import codecs
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UNIFIED_FIELDS: tuple[str, ...] = (
    "case.case_no", "case.service_code", "case.service_name", "case.step", "case.handled_at",
    "target.agency_code", "target.agency_name", "target.region_code",
    "target.staff.staff_id", "target.staff.name",
    "target.provider.credit_code", "target.provider.name",
    "channel", "evaluation_type", "grade", "staff_grade", "tags", "comment",
    "rater.type", "rater.name", "rater.phone", "rater.id_no", "rater.credit_code", "rater.real_name",
    "rated_at",
)  # fmt: skip
TIME_FIELDS = frozenset({"case.handled_at", "rated_at"})
Format = Literal["json", "xml", "form"]

TimeFormat = Annotated[
    str,
    Field(description="epoch_ms, epoch_s, iso, or a pattern of yyyy MM dd HH mm ss (e.g. 'yyyy-MM-dd HH:mm:ss')"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(_Strict):
    """Where one unified field comes from, and how its value is translated."""

    path: str | None = Field(
        default=None,
        description="JSON: a JMESPath (dotted names are the common case); XML: element path a/b, "
        "attribute a/@name, namespaces as prefix:name; form: the key",
    )
    const: Any = Field(default=None, description="a constant instead of a path")
    default: Any = Field(default=None, description="used when the path finds nothing or a blank")
    table: dict[str, Any] | None = Field(
        default=None, description="source value -> unified value; a value missing from it is refused"
    )
    time: TimeFormat | None = None
    split: str | None = Field(default=None, description="tags: the separator inside one string")
    match: Literal["code", "label"] | None = Field(
        default=None, description="tags: the dictionary is matched by code or by Chinese label text"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        if self.path is None and self.const is None and self.default is None:
            raise ValueError("a field needs a path, a const or a default")
        if self.path is not None and self.const is not None:
            raise ValueError("a field takes a path or a const, not both")
        return self


class ConnectorSpec(_Strict):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    name: str | None = None
    format: Format | list[Format] = Field(description="one format, or several told apart by content type")
    charset: str | dict[Format, str] = Field(
        default="utf-8", description="used when the request names none; per format when several"
    )
    timezone: str = "Asia/Shanghai"
    records: str | dict[Format, str | None] | None = Field(
        default=None,
        description="path to the record, or to a list of records (a batch envelope); per format when several",
    )
    namespaces: dict[str, str] = Field(default_factory=dict, description="XML prefixes used in paths")
    source_rating_id: list[str] = Field(
        min_length=1,
        description="paths whose values, joined by '-', identify the rating at the source; "
        "'$field' takes a unified field's translated value (its default included)",
    )
    fields: dict[str, FieldRule | str]

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: dict[str, FieldRule | str]) -> dict[str, FieldRule | str]:
        unknown = sorted(set(fields) - set(UNIFIED_FIELDS))
        if unknown:
            raise ValueError(f"not unified fields: {', '.join(unknown)}; known: {', '.join(UNIFIED_FIELDS)}")
        for required in ("case.case_no", "grade", "rated_at"):
            if required not in fields:
                raise ValueError(f"the spec must say where {required} comes from")
        return fields

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value}") from None
        return value

    @field_validator("charset")
    @classmethod
    def _known_charset(cls, value: str | dict[Format, str]) -> str | dict[Format, str]:
        for name in [value] if isinstance(value, str) else value.values():
            try:
                codecs.lookup(name)
            except LookupError:
                raise ValueError(f"unknown charset {name}") from None
        return value

    @property
    def formats(self) -> tuple[Format, ...]:
        return tuple(self.format) if isinstance(self.format, list) else (self.format,)

    def charset_for(self, fmt: Format) -> str:
        return self.charset if isinstance(self.charset, str) else self.charset.get(fmt, "utf-8")

    def records_for(self, fmt: Format) -> str | None:
        return self.records.get(fmt) if isinstance(self.records, dict) else self.records

    def rule(self, unified: str) -> FieldRule | None:
        rule = self.fields.get(unified)
        return FieldRule(path=rule) if isinstance(rule, str) else rule

    def with_settings(self, settings: dict[str, Any]) -> ConnectorSpec:
        """This spec with one connector's settings merged in (tables and formats replace per key)."""
        merged = _merge(self.model_dump(exclude_none=True), settings)
        return ConnectorSpec.model_validate(merged)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, str) and key in UNIFIED_FIELDS:
            current = {"path": current}  # a shorthand path, now with settings of its own
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out
