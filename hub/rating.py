"""The unified rating: one schema for every source, with the regulation's context-free rules.

Rules that need a clock or the calendar (R5, clock skew) live in `hub.rules`.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from hub.codes import Level, region_level
from hub.tags import TagCode
from hub.types import BLANK_IS_ABSENT, AwareDatetime, CreditCode, IdNumber, Mobile, RegionCode

COMMENT_MAX = 2000
LEVEL_ZH = {Level.PROVINCE: "省", Level.CITY: "市", Level.COUNTY: "县", Level.TOWNSHIP: "乡镇", Level.VILLAGE: "村"}
TEXT_MAX = 200


class Grade(StrEnum):
    """R1: five grades; the last two are bad ratings (差评)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def is_bad(self) -> bool:
        return self in (Grade.DISSATISFIED, Grade.VERY_DISSATISFIED)

    @property
    def zh(self) -> str:
        return GRADE_ZH[self]


GRADE_ZH = {
    Grade.VERY_SATISFIED: "非常满意",
    Grade.SATISFIED: "满意",
    Grade.BASICALLY_SATISFIED: "基本满意",
    Grade.DISSATISFIED: "不满意",
    Grade.VERY_DISSATISFIED: "非常不满意",
}


class Channel(StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    WINDOW = "window"
    KIOSK = "kiosk"
    QR = "qr"
    SMS = "sms"
    PHONE = "phone"


# R4: where the staff member may be rated. A QR code on the window's evaluator is still window handling.
STAFF_RATING_CHANNELS = frozenset({Channel.WINDOW, Channel.QR})


class EvaluationType(StrEnum):
    ACTIVE = "active"
    DEFAULT = "default"
    ADDITIONAL = "additional"


class RaterType(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]


class Source(_Model):
    connector_id: Text
    kind: Text
    source_rating_id: Text
    received_at: AwareDatetime


class Case(_Model):
    case_no: Annotated[str, Field(min_length=1, max_length=64, description="办件编号")]
    service_code: Annotated[str | None, Field(max_length=64, description="事项编码")] = None
    service_name: Annotated[str | None, Field(max_length=TEXT_MAX)] = None
    step: Annotated[str | None, Field(max_length=64, description="环节 (online, one rating per step)")] = None
    handled_at: AwareDatetime | None = None


class Staff(_Model):
    staff_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str | None, Field(max_length=50)] = None


class Provider(_Model):
    """A non-government provider that was rated (an intermediary organization); the agency supervises it."""

    credit_code: CreditCode
    name: Annotated[str | None, Field(max_length=TEXT_MAX)] = None


class Target(_Model):
    agency_code: CreditCode
    agency_name: Annotated[str | None, Field(max_length=TEXT_MAX)] = None
    region_code: RegionCode
    level: Level | None = Field(default=None, description="R3: derived from region_code")
    staff: Staff | None = None
    provider: Provider | None = None
    hall: Annotated[
        str | None, Field(max_length=TEXT_MAX, description="the hall (政务服务大厅) the window belongs to (R19)")
    ] = None
    window_no: Annotated[
        str | None, Field(max_length=32, description="窗口号: the window, unique within its hall (R19 reports)")
    ] = None

    @model_validator(mode="after")
    def _level_follows_region(self) -> Target:
        derived = region_level(self.region_code)
        if self.level is None:
            object.__setattr__(self, "level", derived)
        elif self.level != derived:
            raise PydanticCustomError(
                "LEVEL_MISMATCH", f"{self.region_code} is {derived}, not {self.level}",
                {"detail_zh": f"{self.region_code} 属于{LEVEL_ZH[derived]}级，而不是{LEVEL_ZH[self.level]}级"},
            )  # fmt: skip
        return self


class Rater(_Model):
    """Personal data (R20): encrypted at rest, masked in outputs, never logged."""

    type: RaterType = RaterType.PERSON
    name: Annotated[str | None, Field(max_length=100)] = None
    phone: Mobile | None = None
    id_no: IdNumber | None = None
    credit_code: Annotated[str | None, Field(max_length=32, description="a company rater's code, kept unchecked")] = (
        None
    )
    real_name: bool = False


class RatingBody(_Model):
    """What a rating says, whoever sent it; `Rating` adds the hub's identity and provenance."""

    # Built on first use (with UnifiedRating): the ingest path validates `Rating`s only (a cold start, issue 15).
    model_config = ConfigDict(defer_build=True)

    case: Case
    target: Target
    channel: Channel
    evaluation_type: EvaluationType = EvaluationType.ACTIVE
    grade: Grade
    staff_grade: Grade | None = None
    tags: list[TagCode] = Field(default_factory=list)
    comment: Annotated[Annotated[str, Field(max_length=COMMENT_MAX)] | None, BLANK_IS_ABSENT] = None
    rater: Rater = Field(default_factory=Rater)
    rated_at: AwareDatetime

    @model_validator(mode="after")
    def _rules(self) -> RatingBody:
        check_bad_rating_has_reason(self)
        check_staff_rating_channel(self)
        check_rated_after_handled(self)
        return self

    @property
    def is_bad(self) -> bool:
        """R10: a bad grade for the item or for the staff member."""
        return self.grade.is_bad or (self.staff_grade is not None and self.staff_grade.is_bad)

    @property
    def duplicate_key(self) -> str:
        """R8: one rating per case and step online, one per visit offline; an additional one is another.

        The real and the default rating share the first slot, so exactly one of them wins (R6).
        """
        round_ = "additional" if self.evaluation_type == EvaluationType.ADDITIONAL else "first"
        return f"{self.target.agency_code}/{self.case.case_no}/{self.case.step or '-'}/{round_}"


class UnifiedRating(RatingBody):
    """`POST /v1/ratings`: a rating in the hub's own field names with the source's id for it; target.level is
    derived from region_code (R3), rating_id and source are assigned by the hub."""

    source_rating_id: Annotated[
        str, Field(min_length=1, max_length=TEXT_MAX, description="the rating's id at the source")
    ]


class Rating(RatingBody):
    model_config = ConfigDict(defer_build=False)  # every request validates ratings: built at import

    rating_id: Annotated[str, Field(description="hub-assigned, deterministic from connector and source id")]
    source: Source


def check_bad_rating_has_reason(body: RatingBody) -> None:
    """R2: a bad rating carries at least one tag or a non-blank reason."""
    if body.is_bad and not body.tags and not body.comment:
        raise PydanticCustomError("BAD_RATING_WITHOUT_REASON", "a bad rating needs a tag or a reason")


def check_staff_rating_channel(body: RatingBody) -> None:
    """R4: online and kiosk handling rate the item only; window handling may rate the staff too."""
    if body.staff_grade is not None and body.channel not in STAFF_RATING_CHANNELS:
        raise PydanticCustomError(
            "STAFF_RATING_NOT_ALLOWED", f"channel is {body.channel}", {"detail_zh": f"本次评价渠道为 {body.channel}"}
        )


def check_rated_after_handled(body: RatingBody) -> None:
    if body.case.handled_at is not None and body.rated_at < body.case.handled_at:
        raise PydanticCustomError("RATED_BEFORE_HANDLED", "rated before handled")


def rating_id_for(connector_id: str, source_rating_id: str) -> str:
    """Deterministic: the same source rating from the same connector always gets the same id."""
    digest = hashlib.blake2b(f"{connector_id}\x1f{source_rating_id}".encode(), digest_size=16).hexdigest()
    return f"r{digest}"


RatingOutcome = Literal["accepted", "duplicate", "conflict", "rejected"]
