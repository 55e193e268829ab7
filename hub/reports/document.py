"""A composed report (通报): what the renderers draw and `schemas/report.json` publishes.

A document holds figures only — counts and the rates built from them, per dimension — never a rating,
never rater data (R20). Staff rows exist only for the management audience; the public one has none.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.rating import Grade
from hub.reports.settings import ReportSettings
from hub.types import AwareDatetime


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodKind(StrEnum):
    """Periods are in Beijing time, by `rated_at`; their keys: 2026-11-28, 2026-W48, 2026-11, 2026-Q4, 2026."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Audience(StrEnum):
    MANAGEMENT = "management"  # the region's management department: everything, staff names included
    DEPARTMENT = "department"  # a department, its own agencies: staff by id, no names
    OPERATOR = "operator"  # the hub's operator: everything but staff names
    PUBLIC = "public"  # 第二十条 向社会公布: per county and department, no staff view at all


class Dimension(StrEnum):
    """What a row is about; `key` is the code in that dimension."""

    SCOPE = "scope"  # the whole report's scope (its summary row)
    COUNTY = "county"  # 6-digit county prefix, region_code[:6] (R3)
    TOWNSHIP = "township"  # 9-digit township prefix
    AGENCY = "agency"  # unified social credit code
    HALL = "hall"  # target.hall
    WINDOW = "window"  # "<hall>/<window_no>" (a window number is only unique within its hall)
    STAFF = "staff"  # staff_id
    CHANNEL = "channel"  # hub.rating.Channel
    SERVICE = "service"  # 事项编码
    TAG = "tag"  # hub.tags.TagCode
    PERIOD = "period"  # a period key (trend)


class ViewKind(StrEnum):
    BY_COUNTY = "by_county"
    BY_TOWNSHIP = "by_township"
    BY_AGENCY = "by_agency"
    BY_HALL = "by_hall"
    BY_WINDOW = "by_window"
    BY_STAFF = "by_staff"
    BY_CHANNEL = "by_channel"
    BY_SERVICE = "by_service"
    BY_TAG = "by_tag"
    TREND = "trend"


class Flag(StrEnum):
    LOWEST_TWO_PERIODS = "lowest_two_periods"  # ranked lowest (bottom of the view) this period and the one before
    NO_RATINGS = "no_ratings"  # the row exists (work orders) but no rating counts in the period


class IndicatorValue(_Model):
    """One indicator's figure; a rate carries its numerator and denominator so that it can be recounted.

    `value` is None when the denominator is 0 (no 差评, no 差评率 — not 0 %). Rates are fractions (0.953), not %.
    """

    code: str
    value: float | int | None
    numerator: int | None = None
    denominator: int | None = None


class ReportRow(_Model):
    dimension: Dimension
    key: str
    label_zh: str
    label_en: str | None = None
    parent_key: Annotated[str | None, Field(description="e.g. a township's county, a window's hall")] = None
    values: dict[str, IndicatorValue] = Field(default_factory=dict)
    grades: Annotated[dict[Grade, int], Field(description="R1: counted ratings per grade")] = Field(
        default_factory=dict
    )
    rank: Annotated[int | None, Field(description="1 = best 满意率 in the view; set where the view ranks")] = None
    flags: list[Flag] = Field(default_factory=list)


class ReportView(_Model):
    view: ViewKind
    title_zh: str
    title_en: str
    indicators: Annotated[list[str], Field(description="the indicator codes worth a column, in order")] = Field(
        default_factory=list
    )
    rows: list[ReportRow] = Field(default_factory=list)


class IndicatorDefinition(_Model):
    """Printed as a footnote in every report and listed in docs/reports.md."""

    code: str
    name_zh: str
    name_en: str
    unit: Annotated[str, Field(description="count or ratio")]
    numerator_zh: str
    numerator_en: str
    denominator_zh: str | None = None
    denominator_en: str | None = None
    note_zh: str | None = None
    note_en: str | None = None
    rule: Annotated[str | None, Field(description="the rule or article it reads (R13, 第九条, ...)")] = None


class ReportScope(_Model):
    """Exactly one of region_code (city, county, township: its whole subtree, R18) and agency_code."""

    region_code: str | None = None
    agency_code: str | None = None
    name_zh: str
    name_en: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ReportScope:
        if (self.region_code is None) == (self.agency_code is None):
            raise ValueError("a scope is a region or an agency")
        return self


class TrendPoint(_Model):
    period: str
    values: dict[str, IndicatorValue] = Field(default_factory=dict)


class ReportDocument(_Model):
    """One 通报: a scope, a period and an audience, composed from rollup cells only."""

    period: Annotated[str, Field(description="the period's key, e.g. 2026-11 or 2026-W48")]
    period_kind: PeriodKind
    period_start: AwareDatetime
    period_end: Annotated[AwareDatetime, Field(description="exclusive")]
    scope: ReportScope
    audience: Audience
    generated_at: AwareDatetime
    summary: ReportRow
    views: list[ReportView] = Field(default_factory=list)
    trend: Annotated[list[TrendPoint], Field(description="the months up to this period: 满意率, 差评率, 评价总量")] = (
        Field(default_factory=list)
    )
    footnotes: list[IndicatorDefinition] = Field(default_factory=list)
    settings: ReportSettings

    @model_validator(mode="after")
    def _public_has_no_staff(self) -> ReportDocument:
        if self.audience == Audience.PUBLIC and any(v.view == ViewKind.BY_STAFF for v in self.views):
            raise ValueError("a public report carries no staff view")
        return self

    def view(self, kind: ViewKind) -> ReportView | None:
        return next((v for v in self.views if v.view == kind), None)
