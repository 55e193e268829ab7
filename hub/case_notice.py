"""The completed-case notice (办结事项): it opens the rating window and triggers the reminder (R5, R7)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from hub.rating import COMMENT_MAX, TEXT_MAX, Channel, EvaluationType, Grade, RaterType, Staff, _Model
from hub.tags import TagCode
from hub.types import BLANK_IS_ABSENT, AwareDatetime, CreditCode, IdNumber, RegionCode


class Service(_Model):
    code: Annotated[str | None, Field(max_length=64, description="事项编码")] = None
    name: Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]


class Agency(_Model):
    code: CreditCode
    name: Annotated[str | None, Field(max_length=TEXT_MAX)] = None


PHONE_MAX = 32


class Applicant(_Model):
    """Personal data (R20). The phone is where the reminder goes (R7).

    The phone is plain text here, checked only when reminding: a notice with a landline or a typo is
    still a completed case whose window opens and whose default rating is due (R5, R6); only its SMS
    is skipped, and the skip is recorded with its reason.
    """

    type: RaterType = RaterType.PERSON
    name: Annotated[str | None, Field(max_length=100)] = None
    phone: Annotated[Annotated[str, Field(max_length=PHONE_MAX)] | None, BLANK_IS_ABSENT] = None
    id_no: IdNumber | None = None


class EmbeddedRating(_Model):
    """A rating pushed together with the notice (第十五条): handled as that rating."""

    grade: Grade
    staff_grade: Grade | None = None
    evaluation_type: EvaluationType = EvaluationType.ACTIVE
    tags: list[TagCode] = Field(default_factory=list)
    comment: Annotated[Annotated[str, Field(max_length=COMMENT_MAX)] | None, BLANK_IS_ABSENT] = None
    rated_at: AwareDatetime
    real_name: bool = False


class CaseNotice(_Model):
    case_no: Annotated[str, Field(min_length=1, max_length=64, description="办件编号")]
    step: Annotated[str | None, Field(max_length=64)] = None
    service: Service
    agency: Agency
    region_code: RegionCode
    channel: Channel
    handled_at: AwareDatetime
    applicant: Applicant = Field(default_factory=Applicant)
    staff: Staff | None = None
    rating: EmbeddedRating | None = None
