"""From the unified rating to one province's wire format: everything that differs between provinces is data.

`ProvincialMapping` holds field renames, code tables (channel → pf, grade → satisfaction in either direction,
tags → the province's tag codes), how a default rating is marked, the time format, the envelope, how much
personal data goes out, the signature and how the province's answers read. `DEFAULT` is the national
push-interface format of `infra.province.payload.ProvincialRating`; a province is configured by a JSON
document (`PROVINCE_MAPPING` / `PROVINCE_MAPPING_FILE`), not by code.

`to_provincial` is pure and deterministic: the same rating always gives the same bytes, whatever the retry,
which is what lets `evalId` (= rating_id) serve as the idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.rating import Channel, EvaluationType, Grade, Rater, RaterType, Rating
from hub.tags import TagCode
from infra.province.payload import FIELD_NAMES, PERSONAL_FIELDS, TIME_FIELDS, ProvincialRating
from infra.province.signing import SignatureConfig

GradeScale = Literal["five_is_best", "one_is_best"]
TimeFormat = Literal["yyyy-MM-dd HH:mm:ss", "yyyyMMddHHmmss", "iso", "epoch_ms"]
PersonalData = Literal["omit", "masked", "clear"]

DEFAULT_TIME_FORMAT: TimeFormat = "yyyy-MM-dd HH:mm:ss"
_STRFTIME = {"yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S", "yyyyMMddHHmmss": "%Y%m%d%H%M%S"}

_GRADES_BEST_FIRST = (
    Grade.VERY_SATISFIED,
    Grade.SATISFIED,
    Grade.BASICALLY_SATISFIED,
    Grade.DISSATISFIED,
    Grade.VERY_DISSATISFIED,
)
DEFAULT_CHANNEL_CODES: dict[Channel, str] = {
    Channel.WEB: "1",
    Channel.MOBILE: "2",
    Channel.QR: "3",
    Channel.WINDOW: "4",
    Channel.KIOSK: "5",
    Channel.PHONE: "6",
    Channel.SMS: "7",
}
_ASSESS_NUMBER = {EvaluationType.ACTIVE: "1", EvaluationType.DEFAULT: "1", EvaluationType.ADDITIONAL: "2"}
_USER_PROP = {RaterType.PERSON: "1", RaterType.COMPANY: "2"}
_REQUIRED = frozenset(name for name, field in ProvincialRating.model_fields.items() if field.is_required())


class MappingError(ValueError):
    """A wire body that does not fit the mapping (wrong envelope, a time that does not parse)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultMarker(_Config):
    """How a default rating (R6) is marked: a flag field set to "1" ("0" otherwise), and/or fixed values.

    `{"flag": "isDefault"}` is the default; `{"pf": "7"}` is shorthand for `{"overrides": {"pf": "7"}}`
    (provinces whose channel table has a 'system default' code).
    """

    flag: str | None = None
    overrides: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not set(data) <= {"flag", "overrides"}:
            own = {k: v for k, v in data.items() if k in ("flag", "overrides")}
            extra = {k: v for k, v in data.items() if k not in ("flag", "overrides")}
            return {**own, "overrides": {**dict(own.get("overrides") or {}), **extra}}
        return data

    @model_validator(mode="after")
    def _known_fields(self) -> DefaultMarker:
        unknown = ({f for f in (self.flag,) if f is not None} | set(self.overrides)) - set(FIELD_NAMES)
        if unknown:
            raise ValueError(f"not provincial fields: {sorted(unknown)}")
        return self


class Envelope(_Config):
    """Where the record sits in the body: bare (`key` None), `{key: record}`, or `{key: [record]}`."""

    key: str | None = None
    as_list: bool = False
    extra: dict[str, str] = Field(default_factory=dict, description="constant fields beside the key")

    @model_validator(mode="after")
    def _consistent(self) -> Envelope:
        if self.key is None and (self.as_list or self.extra):
            raise ValueError("as_list and extra need a key to put the record under")
        return self


class ResponseConfig(_Config):
    """How the province's answers read. Fields are dotted paths into the JSON answer; absent ones are None.

    A 2xx whose `code` is not in `ok_codes` is a business refusal; `duplicate_codes` are refusals that mean
    "I have it already", which is success for an idempotent sender.
    """

    code_field: str | None = "code"
    ok_codes: tuple[str, ...] = ("0", "200")
    duplicate_codes: tuple[str, ...] = ()
    message_field: str = "msg"
    receipt_field: str = "data.receiptId"
    duplicate_field: str = "data.duplicate"
    received_at_field: str = "data.receivedAt"


class ProvincialMapping(_Config):
    """One province's wire format. Every field has the national default; a province overrides a few."""

    renames: dict[str, str] = Field(default_factory=dict, description="national field name → the province's")
    omit: frozenset[str] = Field(default_factory=frozenset, description="optional national fields never sent")
    channel_codes: dict[Channel, str] = Field(default_factory=lambda: dict(DEFAULT_CHANNEL_CODES))
    grade_scale: GradeScale = Field(
        "five_is_best", description="five_is_best: 5 = 非常满意 (push interfaces); one_is_best: GB/T 39046-2020"
    )
    tag_codes: dict[TagCode, str] = Field(default_factory=dict, description="the province's tag codes; else ours")
    default_marker: DefaultMarker = Field(default_factory=lambda: DefaultMarker(flag="isDefault"))
    personal_data: PersonalData = Field(
        "omit", description="rater identity for real-name ratings: omit (default), masked, or clear"
    )
    time_format: TimeFormat = DEFAULT_TIME_FORMAT
    timezone: str = "Asia/Shanghai"
    envelope: Envelope = Field(default_factory=Envelope)
    signature: SignatureConfig = Field(default_factory=SignatureConfig)
    response: ResponseConfig = Field(default_factory=ResponseConfig)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ProvincialMapping:
        unknown = (set(self.renames) | set(self.omit)) - set(FIELD_NAMES)
        if unknown:
            raise ValueError(f"not provincial fields: {sorted(unknown)}")
        if self.omit & _REQUIRED:
            raise ValueError(f"required fields cannot be omitted: {sorted(self.omit & _REQUIRED)}")
        wire = [self.renames.get(name, name) for name in FIELD_NAMES]
        if len(set(wire)) != len(wire):
            raise ValueError("renames make two fields share one wire name")
        missing = set(Channel) - set(self.channel_codes)
        if missing:
            raise ValueError(f"channel_codes misses {sorted(missing)}")
        return self

    # Derived once per mapping (the model is frozen); to_provincial runs per rating.
    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def grade_codes(self) -> dict[Grade, str]:
        codes = ("5", "4", "3", "2", "1") if self.grade_scale == "five_is_best" else ("1", "2", "3", "4", "5")
        return dict(zip(_GRADES_BEST_FIRST, codes, strict=True))

    @cached_property
    def wire_names(self) -> dict[str, str]:
        return {name: self.renames.get(name, name) for name in FIELD_NAMES}

    @cached_property
    def national_names(self) -> dict[str, str]:
        return {wire: name for name, wire in self.wire_names.items()}

    @classmethod
    def from_json(cls, text: str | bytes) -> ProvincialMapping:
        return cls.model_validate_json(text)

    @classmethod
    def from_file(cls, path: str | Path) -> ProvincialMapping:
        return cls.from_json(Path(path).read_bytes())

    @classmethod
    def configured(cls, text: str = "", path: str = "") -> ProvincialMapping:
        """`PROVINCE_MAPPING` (JSON `text`) or `PROVINCE_MAPPING_FILE` (a `path`); the national default otherwise."""
        if text:
            return cls.from_json(text)
        if path:
            return cls.from_file(path)
        return DEFAULT

    # --- time -------------------------------------------------------------------------------------
    def format_time(self, moment: datetime) -> str:
        """A time as the province writes it: its format, in its zone (Beijing time by default)."""
        if self.time_format == "epoch_ms":
            return str(int(moment.timestamp() * 1000))
        local = moment.astimezone(self.zone)
        if self.time_format == "iso":
            return local.isoformat(timespec="seconds")
        return local.strftime(_STRFTIME[self.time_format])

    def parse_time(self, text: str) -> datetime:
        try:
            if self.time_format == "epoch_ms":
                return datetime.fromtimestamp(int(text) / 1000, UTC)
            if self.time_format == "iso":
                parsed = datetime.fromisoformat(text)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)
            return datetime.strptime(text, _STRFTIME[self.time_format]).replace(tzinfo=self.zone)
        except (TypeError, ValueError):
            raise MappingError(f"not a time in {self.time_format}") from None


DEFAULT = ProvincialMapping()


def _mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def _mask_code(code: str) -> str:
    return f"{code[:4]}{'*' * (len(code) - 8)}{code[-4:]}" if len(code) > 8 else "****"


def _mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1)


def _personal(rater: Rater, mode: PersonalData) -> dict[str, str | None]:
    """Rater identity for a real-name rating, when the mapping sends it (see payload's docstring)."""
    if mode == "omit" or not rater.real_name:
        return {}
    cert = rater.id_no or rater.credit_code
    if mode == "clear":
        return {"userName": rater.name, "mobile": rater.phone, "userCert": cert}
    company = rater.type is RaterType.COMPANY
    return {
        "userName": rater.name if company or not rater.name else _mask_name(rater.name),
        "mobile": _mask_phone(rater.phone) if rater.phone else None,
        "userCert": _mask_code(cert) if cert else None,
    }


def national_record(rating: Rating, mapping: ProvincialMapping = DEFAULT) -> dict[str, str]:
    """The record under national field names (before renames and envelope), empty fields left out.

    With the default mapping this is exactly a `ProvincialRating`; code tables and time format are applied.
    """
    grades = mapping.grade_codes
    staff = rating.target.staff
    is_default = rating.evaluation_type is EvaluationType.DEFAULT
    tags = ",".join(dict.fromkeys(mapping.tag_codes.get(tag, tag.value) for tag in rating.tags))
    values: dict[str, str | None] = {
        "evalId": rating.rating_id,
        "projectNo": rating.case.case_no,
        "taskCode": rating.case.service_code,
        "taskName": rating.case.service_name,
        "nodeName": rating.case.step,
        "deptCode": rating.target.agency_code,
        "deptName": rating.target.agency_name,
        "areaCode": rating.target.region_code,
        "pf": mapping.channel_codes[rating.channel],
        "satisfaction": grades[rating.grade],
        "staffId": staff.staff_id if staff else None,
        "staffName": staff.name if staff else None,
        "staffSatisfaction": grades[rating.staff_grade] if rating.staff_grade else None,
        "evalDetail": tags or None,
        "writingEvaluation": rating.comment,
        "assessTime": mapping.format_time(rating.rated_at),
        "handleTime": mapping.format_time(rating.case.handled_at) if rating.case.handled_at else None,
        "assessNumber": _ASSESS_NUMBER[rating.evaluation_type],
        "userProp": _USER_PROP[rating.rater.type],
        "realName": "1" if rating.rater.real_name else "0",
        **_personal(rating.rater, mapping.personal_data),
    }
    marker = mapping.default_marker
    if marker.flag:
        values[marker.flag] = "1" if is_default else "0"
    if is_default:
        values.update(marker.overrides)
    # FIELD_NAMES fixes the order, so the same rating always serializes to the same bytes.
    return {
        name: value
        for name in FIELD_NAMES
        if (value := values.get(name)) is not None and value != "" and name not in mapping.omit
    }


def to_record(rating: Rating, mapping: ProvincialMapping = DEFAULT) -> dict[str, str]:
    """The record under the province's field names (what a sorted-params signature covers)."""
    wire = mapping.wire_names
    return {wire[name]: value for name, value in national_record(rating, mapping).items()}


def wrap(record: dict[str, str], mapping: ProvincialMapping = DEFAULT) -> dict[str, Any]:
    env = mapping.envelope
    if env.key is None:
        return record
    return {**env.extra, env.key: [record] if env.as_list else record}


def to_provincial(rating: Rating, mapping: ProvincialMapping = DEFAULT) -> dict[str, Any]:
    """The JSON-ready wire body for one rating: pure, deterministic, `evalId` = rating_id."""
    return wrap(to_record(rating, mapping), mapping)


def unwrap(body: Any, mapping: ProvincialMapping = DEFAULT) -> list[dict[str, Any]]:
    """The records of a wire body, still under the province's names (the receiving side's first step)."""
    env = mapping.envelope
    if env.key is None:
        content = body
    elif isinstance(body, dict) and env.key in body:
        content = body[env.key]
    else:
        raise MappingError(f"the body has no {env.key!r}")
    records = content if env.as_list else [content]
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise MappingError("the body holds no rating record" + (" list" if env.as_list else ""))
    return records


def to_national(record: Mapping[str, Any], mapping: ProvincialMapping = DEFAULT) -> dict[str, Any]:
    """A wire record back under national names and the default time format, to check against the schema.

    Code tables are not undone: the schema's patterns hold for any province's codes. Unknown names pass
    through unchanged, so the schema reports them.
    """
    names = mapping.national_names
    out = {names.get(key, key): value for key, value in record.items()}
    if mapping.time_format != DEFAULT_TIME_FORMAT:
        for name in TIME_FIELDS:
            if isinstance(out.get(name), str):
                out[name] = DEFAULT.format_time(mapping.parse_time(out[name]))
    return out


__all__ = [
    "DEFAULT",
    "DEFAULT_CHANNEL_CODES",
    "PERSONAL_FIELDS",
    "DefaultMarker",
    "Envelope",
    "MappingError",
    "ProvincialMapping",
    "ResponseConfig",
    "national_record",
    "to_national",
    "to_provincial",
    "to_record",
    "unwrap",
    "wrap",
]
