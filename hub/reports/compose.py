"""Composing a 通报 from rollup cells only (never a rating): scope, period, audience -> ReportDocument.

What is read, per stored period (a day or a month, `hub.reports.periods`):
  a city      its partition, whole (one query, paged): every cell is used by a view
  a county    its cells in the city's partition, one query per dimension (`{dim}#{county}#`)
  a township  the township cells of its county (`tw#{county}#`), kept for that township: summary, by agency; and
              for each of its agencies rated nowhere else in the county, that agency's other cells (hall, window,
              staff, channel, service, tag: one query each, after one for its summary cell to check it)
  an agency   its counties from the summary index (once per month), then one query per dimension and county
plus the summary cells of the trend's months and, for the lowest-two-periods flag, the staff and window
cells of the period before.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.codes import Level, region_level
from hub.rating import Grade
from hub.reports import indicators as ind
from hub.reports.cells import CHANNEL_ZH, Dim
from hub.reports.document import (
    Audience,
    Dimension,
    Flag,
    ReportDocument,
    ReportRow,
    ReportScope,
    ReportView,
    TrendPoint,
    ViewKind,
)
from hub.reports.periods import Period, parse_period
from hub.reports.ports import Cell, RollupStore
from hub.reports.settings import ReportSettings
from hub.tags import TAGS_BY_CODE, TagCode
from hub.types import AwareDatetime

Counters = dict[str, int]
RATING_COLUMNS = [ind.RATED_TOTAL, ind.SATISFIED_RATE, ind.GOOD_RATE, ind.BAD_COUNT, ind.BAD_RATE, ind.ACTIVE_RATE]
ORDER_COLUMNS = [
    ind.RECTIFICATION_RATE, ind.ON_TIME_RATE, ind.REVISIT_RATE, ind.REVISIT_SATISFACTION, ind.OVERDUE_NOW,
    ind.EXTENSIONS_USED, ind.APPEALS_FILED, ind.APPEALS_UPHELD,
]  # fmt: skip
ALL_COLUMNS = [*RATING_COLUMNS, ind.DEFAULT_COUNT, ind.NOT_ADOPTED, *ORDER_COLUMNS]
TREND_COLUMNS = [ind.RATED_TOTAL, ind.SATISFIED_RATE, ind.BAD_RATE]
TITLES = {
    ViewKind.BY_COUNTY: ("各县（市、区）评价情况", "by county"),
    ViewKind.BY_TOWNSHIP: ("各乡镇（街道）评价情况", "by township"),
    ViewKind.BY_AGENCY: ("各部门（单位）评价情况", "by agency"),
    ViewKind.BY_HALL: ("各政务服务大厅评价情况", "by hall"),
    ViewKind.BY_WINDOW: ("窗口评价排名", "windows ranked"),
    ViewKind.BY_STAFF: ("窗口工作人员评价排名", "staff ranked"),
    ViewKind.BY_CHANNEL: ("各评价渠道评价情况", "by channel"),
    ViewKind.BY_SERVICE: ("各服务事项评价情况", "by service item"),
    ViewKind.BY_TAG: ("差评主要问题（评价标签）", "top bad-rating tags"),
}


class ReportScopeError(ValueError):
    code = "REPORT_SCOPE_INVALID"

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message_zh = message_zh


class ReportRequest(BaseModel):
    """Which report: a period, exactly one of a region (city, county, township) and an agency, an audience."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str
    region_code: str | None = None
    agency_code: str | None = None
    audience: Audience = Audience.MANAGEMENT
    generated_at: AwareDatetime
    scope_name_zh: str | None = None
    region_names: Annotated[
        dict[str, str], Field(description="names of divisions by code (6 or 9 digits, or 12), for row labels")
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_scope(self) -> ReportRequest:
        if (self.region_code is None) == (self.agency_code is None):
            raise ValueError("a report is for a region or for an agency")
        return self


def _add(into: Counters, counters: Mapping[str, int]) -> None:
    for name, n in counters.items():
        into[name] = into.get(name, 0) + n


class _Read:
    """The cells of one scope over a period's stored keys, grouped as the views want them."""

    def __init__(self, store: RollupStore, request: ReportRequest, period: Period) -> None:
        self.store, self.request, self.period = store, request, period
        self._counties: dict[str, list[tuple[str, str]]] = {}

    def _agency_counties(self, month: str) -> list[tuple[str, str]]:
        """(city, county) of every county the agency was rated in during `month`, from the summary index once per
        month: a day's cells are in a county only if its month's are (every change counts in both), so a week's
        seven days ask the index once or twice, not seven times."""
        if month not in self._counties:
            found = self.store.agency_partitions(month, str(self.request.agency_code))
            self._counties[month] = [(key.pk.split("#", 1)[1], key.county) for key in found]
        return self._counties[month]

    def cells(self, stored: Iterable[str], dims: Iterable[str] = Dim.ALL) -> list[Cell]:
        request, dims = self.request, tuple(dims)
        out: list[Cell] = []
        for key in stored:
            if request.agency_code is not None:
                for city, county in self._agency_counties(key[:7]):
                    for dim in dims:
                        out += self.store.query(f"{key}#{city}", f"{dim}#{county}#{request.agency_code}#")
                continue
            code = request.region_code or ""
            pk = f"{key}#{code[:4]}"
            level = region_level(code)
            if level is Level.CITY:
                if set(dims) == set(Dim.ALL):
                    out += self.store.query(pk)
                else:
                    for dim in dims:
                        out += self.store.query(pk, f"{dim}#")
            elif level is Level.COUNTY:
                for dim in dims:
                    out += self.store.query(pk, f"{dim}#{code[:6]}#")
            else:  # a township (or a village: its township's figures, R18)
                township = [c for c in self.store.query(pk, f"{Dim.TOWNSHIP}#{code[:6]}#") if c.key.key == code[:9]]
                out += township
                wanted = [d for d in dims if d not in (Dim.SUMMARY, Dim.TOWNSHIP)]
                if wanted:
                    out += self._wholly_in(pk, code[:6], township, wanted)
        return out

    def _wholly_in(self, pk: str, county: str, township: list[Cell], dims: list[str]) -> list[Cell]:
        """The other views' cells of the agencies whose every rating and order of the county (in this stored
        period) was in the township: their county-keyed cells are then the township's own. An agency rated in
        other townships too cannot be split (its window, staff, channel, service and tag cells are per county):
        it is left out of those views, and stays in the summary and by_agency (docs/reports.md)."""
        out: list[Cell] = []
        for cell in township:
            agency = cell.key.agency
            whole = [c for c in self.store.query(pk, f"{Dim.SUMMARY}#{county}#{agency}#") if c.key.agency == agency]
            if len(whole) != 1 or _nonzero(whole[0].counters) != _nonzero(cell.counters):
                continue
            for dim in dims:
                out += [c for c in self.store.query(pk, f"{dim}#{county}#{agency}#") if c.key.agency == agency]
        return out


def _nonzero(counters: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if v}


def _label_region(code: str, names: Mapping[str, str]) -> str:
    for candidate in (code, code.ljust(12, "0")):
        if candidate in names:
            return names[candidate]
    if len(code) == 6 and code.endswith("00"):
        return names.get(code[:4].ljust(12, "0"), code) + "（市本级）" if code[:4].ljust(12, "0") in names else "市本级"
    return code


def _rows(
    groups: Mapping[str, Counters], dimension: Dimension, labels: Mapping[str, str], columns: list[str],
    settings: ReportSettings, parents: Mapping[str, str] | None = None,
) -> list[ReportRow]:  # fmt: skip
    rows = []
    for key, counters in groups.items():
        values = ind.compute(counters, settings)
        rows.append(ReportRow(
            dimension=dimension, key=key, label_zh=labels.get(key) or key, parent_key=(parents or {}).get(key),
            values={c: values[c] for c in columns if c in values},
            grades={g: n for g, n in ind.counted_grades(counters, settings).items() if n},
            flags=[Flag.NO_RATINGS] if not values[ind.RATED_TOTAL].value and dimension is not Dimension.TAG else [],
        ))  # fmt: skip
    return rows


def _rate_of(row: ReportRow) -> float:
    value = row.values.get(ind.SATISFIED_RATE)
    return float(value.value) if value is not None and value.value is not None else -1.0


def _ranked(rows: list[ReportRow], settings: ReportSettings) -> list[ReportRow]:
    """Best 满意率 first (then more ratings); rows with fewer than rank_min_ratings ratings go last, unranked."""
    def total(r: ReportRow) -> int:
        v = r.values[ind.RATED_TOTAL].value
        return int(v or 0)

    rankable = sorted((r for r in rows if total(r) >= settings.rank_min_ratings),
                      key=lambda r: (-_rate_of(r), -total(r), r.key))  # fmt: skip
    rest = sorted((r for r in rows if total(r) < settings.rank_min_ratings), key=lambda r: r.key)
    return [r.model_copy(update={"rank": n}) for n, r in enumerate(rankable, 1)] + rest


def _lowest(rows: list[ReportRow], settings: ReportSettings) -> set[str]:
    ranked = [r for r in rows if r.rank is not None]
    if not ranked:
        return set()
    count = max(1, math.ceil(len(ranked) * settings.lowest_share))
    return {r.key for r in ranked[-count:]}


def _group(cells: Iterable[Cell], key_of: object) -> tuple[dict[str, Counters], dict[str, str], dict[str, str]]:
    groups: dict[str, Counters] = defaultdict(dict)
    labels: dict[str, str] = {}
    parents: dict[str, str] = {}
    for cell in cells:
        key, parent = key_of(cell)  # type: ignore[operator]
        _add(groups[key], cell.counters)
        if cell.label:
            labels[key] = cell.label
        if parent:
            parents[key] = parent
    return dict(groups), labels, parents


def _by_dim(cells: Iterable[Cell]) -> dict[str, list[Cell]]:
    out: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        out[cell.key.dim].append(cell)
    return out


def _unescape(text: str) -> str:
    return text.replace("%23", "#").replace("%25", "%")


def _views(cells: dict[str, list[Cell]], request: ReportRequest, settings: ReportSettings,
           previous: dict[str, list[Cell]]) -> list[ReportView]:  # fmt: skip
    names = request.region_names
    views: list[ReportView] = []
    level = region_level(request.region_code) if request.region_code else None

    def view(kind: ViewKind, rows: list[ReportRow], columns: list[str]) -> None:
        zh, en = TITLES[kind]
        views.append(ReportView(view=kind, title_zh=zh, title_en=en, indicators=columns, rows=rows))

    summaries = cells.get(Dim.SUMMARY, [])
    if level is Level.CITY:
        groups, _, _ = _group(summaries, lambda c: (c.key.county, None))
        labels = {k: _label_region(k, names) for k in groups}
        view(ViewKind.BY_COUNTY, sorted(_rows(groups, Dimension.COUNTY, labels, ALL_COLUMNS, settings),
                                        key=lambda r: r.key), ALL_COLUMNS)  # fmt: skip
    if level in (Level.CITY, Level.COUNTY):
        groups, _, parents = _group(cells.get(Dim.TOWNSHIP, []), lambda c: (c.key.key, c.key.county))
        labels = {k: _label_region(k, names) for k in groups}
        rows = _rows(groups, Dimension.TOWNSHIP, labels, ALL_COLUMNS, settings, parents)
        view(ViewKind.BY_TOWNSHIP, sorted(rows, key=lambda r: r.key), ALL_COLUMNS)
    agency_cells = summaries if level is not Level.TOWNSHIP and level is not Level.VILLAGE else cells.get(Dim.TOWNSHIP)
    groups, labels, _ = _group(agency_cells or [], lambda c: (c.key.agency, None))
    view(ViewKind.BY_AGENCY, sorted(_rows(groups, Dimension.AGENCY, labels, ALL_COLUMNS, settings),
                                    key=lambda r: r.key), ALL_COLUMNS)  # fmt: skip
    windows = cells.get(Dim.WINDOW, [])
    halls, _, _ = _group(windows, lambda c: (_unescape(c.key.key).rsplit("/", 1)[0], None))
    view(ViewKind.BY_HALL, sorted(_rows(halls, Dimension.HALL, {k: k for k in halls}, RATING_COLUMNS, settings),
                                  key=lambda r: r.key), RATING_COLUMNS)  # fmt: skip

    def ranked_view(kind: ViewKind, dim: str, dimension: Dimension, staff: bool) -> None:
        def key_of(c: Cell) -> tuple[str, str]:
            return _unescape(c.key.key), c.key.agency

        groups, labels, parents = _group(cells.get(dim, []), key_of)
        if staff and request.audience is not Audience.MANAGEMENT:
            labels = {}  # staff names only to the region's management (R19, 第二十条); others see the id
        rows = _ranked(_rows(groups, dimension, labels, RATING_COLUMNS, settings, parents), settings)
        before_groups, _, _ = _group(previous.get(dim, []), key_of)
        before = _ranked(_rows(before_groups, dimension, {}, RATING_COLUMNS, settings), settings)
        flagged = _lowest(rows, settings) & _lowest(before, settings)
        rows = [r.model_copy(update={"flags": [*r.flags, Flag.LOWEST_TWO_PERIODS]}) if r.key in flagged else r
                for r in rows]  # fmt: skip
        view(kind, rows, RATING_COLUMNS)

    ranked_view(ViewKind.BY_WINDOW, Dim.WINDOW, Dimension.WINDOW, staff=False)
    if request.audience is not Audience.PUBLIC:
        ranked_view(ViewKind.BY_STAFF, Dim.STAFF, Dimension.STAFF, staff=True)

    groups, _, _ = _group(cells.get(Dim.CHANNEL, []), lambda c: (c.key.key, None))
    labels = {k: CHANNEL_ZH.get(k, k) for k in groups}  # type: ignore[call-overload]
    rows = _rows(groups, Dimension.CHANNEL, labels, RATING_COLUMNS, settings)
    view(ViewKind.BY_CHANNEL, sorted(rows, key=lambda r: -int(r.values[ind.RATED_TOTAL].value or 0)), RATING_COLUMNS)
    groups, labels, _ = _group(cells.get(Dim.SERVICE, []), lambda c: (_unescape(c.key.key), None))
    rows = _rows(groups, Dimension.SERVICE, labels, RATING_COLUMNS, settings)
    view(ViewKind.BY_SERVICE, sorted(rows, key=lambda r: (-int(r.values[ind.BAD_COUNT].value or 0), r.key)),
         RATING_COLUMNS)  # fmt: skip
    groups, _, _ = _group(cells.get(Dim.TAG, []), lambda c: (c.key.key, None))
    labels = {k: TAGS_BY_CODE[TagCode(k)].dimension_zh for k in groups if k in TagCode.__members__}
    rows = _rows(groups, Dimension.TAG, labels, [ind.TAG_COUNT], settings)
    rows = sorted(rows, key=lambda r: (-int(r.values[ind.TAG_COUNT].value or 0), r.key))[: settings.top_tags]
    view(ViewKind.BY_TAG, rows, [ind.TAG_COUNT])
    return views


def _trend(read: _Read, settings: ReportSettings) -> list[TrendPoint]:
    end = read.period.months[-1]
    months = [end]
    while len(months) < settings.trend_periods:
        months.insert(0, months[0].previous())
    points = []
    for month in months:
        counters: Counters = {}
        summary_dim = Dim.TOWNSHIP if read.request.region_code and region_level(read.request.region_code) in (
            Level.TOWNSHIP, Level.VILLAGE) else Dim.SUMMARY  # fmt: skip
        for cell in read.cells([month.key], [summary_dim]):
            _add(counters, cell.counters)
        values = ind.compute(counters, settings)
        points.append(TrendPoint(period=month.key, values={c: values[c] for c in TREND_COLUMNS}))
    return points


def _summary_row(cells: dict[str, list[Cell]], request: ReportRequest, settings: ReportSettings) -> ReportRow:
    level = region_level(request.region_code) if request.region_code else None
    dim = Dim.TOWNSHIP if level in (Level.TOWNSHIP, Level.VILLAGE) else Dim.SUMMARY
    counters: Counters = {}
    for cell in cells.get(dim, []):
        _add(counters, cell.counters)
    values = ind.compute(counters, settings)
    key = request.region_code or request.agency_code or ""
    return ReportRow(
        dimension=Dimension.SCOPE, key=key, label_zh=request.scope_name_zh or _label_region(key, request.region_names),
        values={c: values[c] for c in ALL_COLUMNS},
        grades={g: ind.counted_grades(counters, settings)[g] for g in Grade},
    )  # fmt: skip


def compose_report(
    store: RollupStore, request: ReportRequest, settings: ReportSettings | None = None
) -> ReportDocument:
    """The report of `request`, from the rollup cells in `store` alone."""
    settings = settings or ReportSettings()
    period = parse_period(request.period)
    if request.region_code is not None and region_level(request.region_code) is Level.PROVINCE:
        raise ReportScopeError("reports are per city, county, township or agency",
                               "通报按市、县（市、区）、乡镇（街道）或部门生成")  # fmt: skip
    read = _Read(store, request, period)
    cells = _by_dim(read.cells(period.stored_keys))
    before = period.previous()
    previous = _by_dim(read.cells(before.stored_keys, [Dim.WINDOW, Dim.STAFF]))
    summary = _summary_row(cells, request, settings)
    scope = ReportScope(
        region_code=request.region_code, agency_code=request.agency_code, name_zh=summary.label_zh,
    )  # fmt: skip
    return ReportDocument(
        period=period.key, period_kind=period.kind, period_start=period.start, period_end=period.end,
        scope=scope, audience=request.audience, generated_at=request.generated_at, summary=summary,
        views=_views(cells, request, settings, previous), trend=_trend(read, settings),
        footnotes=list(ind.definitions(settings)), settings=settings,
    )  # fmt: skip



def rated_scopes(store: RollupStore, period: str, city: str) -> tuple[list[str], list[str]]:
    """The counties (6 digits) and agencies rated in `period` in the city, from its summary cells alone: what the
    scheduled run lists its reports from (one query per stored day or month), rather than composing the city's
    whole report (every dimension, the trend, the period before) only to read its by_county and by_agency rows."""
    counties: set[str] = set()
    agencies: set[str] = set()
    for key in parse_period(period).stored_keys:
        for cell in store.query(f"{key}#{city[:4]}", f"{Dim.SUMMARY}#"):
            if any(cell.counters.values()):
                counties.add(cell.key.county)
                agencies.add(cell.key.agency)
    return sorted(counties), sorted(agencies)
