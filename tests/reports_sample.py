"""A realistic composed report for the renderers' tests: the city of 赣州 in 2026-11, three counties.

Built as a ReportDocument directly (the renderers are pure functions of one); the figures are consistent
(numerator / denominator = value), so a test can recount what a page or a sheet shows.
"""

from __future__ import annotations

from datetime import datetime

from hub.reports import indicators
from hub.reports.document import (
    Audience,
    Dimension,
    Flag,
    IndicatorValue,
    PeriodKind,
    ReportDocument,
    ReportRow,
    ReportScope,
    ReportView,
    TrendPoint,
    ViewKind,
)
from hub.reports.settings import ReportSettings

GRADES = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
SETTINGS = ReportSettings()


def _row(dimension: Dimension, key: str, label: str, grades: tuple[int, ...], orders: dict[str, int] | None = None,
         **extra) -> ReportRow:  # fmt: skip
    """A row whose figures are the indicators' own computation over its counters (g.<grade>, wo, ...)."""
    counters = {f"g.{g}": n for g, n in zip(GRADES, grades, strict=True)} | {"act": sum(grades)} | (orders or {})
    return ReportRow(dimension=dimension, key=key, label_zh=label, values=indicators.compute(counters, SETTINGS),
                     grades=indicators.counted_grades(counters, SETTINGS), **extra)  # fmt: skip


COUNTIES = [("360702", "章贡区", (120, 60, 12, 5, 3)), ("360704", "赣县区", (90, 50, 15, 8, 4)),
            ("360721", "信丰县", (70, 40, 10, 2, 1))]  # fmt: skip
STAFF = [("S001", "王芳", (30, 10, 2, 0, 0), []), ("S002", "李强", (20, 12, 5, 1, 0), []),
         ("S003", "张伟", (8, 9, 6, 4, 3), [Flag.LOWEST_TWO_PERIODS])]  # fmt: skip
TAGS = [("STAFF_ATTITUDE", "服务态度", 7), ("ITEM_EFFICIENCY", "办事效率", 6), ("ITEM_MATERIALS", "办事材料", 5),
        ("PLATFORM_STABILITY", "平台稳定性", 3)]  # fmt: skip


def _v(code: str, value: float | int | None) -> IndicatorValue:
    return IndicatorValue(code=code, value=value)


I = indicators  # noqa: E741
COUNTY_COLUMNS = [I.RATED_TOTAL, I.SATISFIED_RATE, I.GOOD_RATE, I.BAD_COUNT, I.BAD_RATE]
STAFF_COLUMNS = [I.RATED_TOTAL, I.SATISFIED_RATE, I.BAD_COUNT]


def sample_document(audience: Audience = Audience.MANAGEMENT) -> ReportDocument:
    counties = [_row(Dimension.COUNTY, code, name, grades) for code, name, grades in COUNTIES]
    total_grades = tuple(sum(c[2][i] for c in COUNTIES) for i in range(5))
    orders = {"wo": 23, "wo_fixed": 19, "wo_on_time": 15, "wo_real": 6, "wo_visited": 5, "od": 1, "ext": 2,
              "ap": 3, "ap_up": 1, "sv.satisfied": 4, "sv.dissatisfied": 1}  # fmt: skip
    summary = _row(Dimension.SCOPE, "360700", "赣州市", total_grades, orders)
    staff = [_row(Dimension.STAFF, key, name, grades, rank=rank, flags=flags)
             for rank, (key, name, grades, flags) in enumerate(STAFF, start=1)]  # fmt: skip
    tags = [ReportRow(dimension=Dimension.TAG, key=code, label_zh=name, values={I.TAG_COUNT: _v(I.TAG_COUNT, n)})
            for code, name, n in TAGS]  # fmt: skip
    views = [
        ReportView(view=ViewKind.BY_COUNTY, title_zh="各区县评价情况", title_en="By county",
                   indicators=COUNTY_COLUMNS, rows=counties),
        ReportView(view=ViewKind.BY_TAG, title_zh="差评问题分布", title_en="Bad ratings by tag",
                   indicators=[I.TAG_COUNT], rows=tags),
    ]  # fmt: skip
    if audience != Audience.PUBLIC:
        views.append(ReportView(view=ViewKind.BY_STAFF, title_zh="窗口工作人员评价情况", title_en="By staff member",
                                indicators=STAFF_COLUMNS, rows=staff))  # fmt: skip
    trend = [TrendPoint(period=p, values={I.SATISFIED_RATE: _v(I.SATISFIED_RATE, s),
                                          I.BAD_RATE: _v(I.BAD_RATE, round(1 - s, 3)),
                                          I.RATED_TOTAL: _v(I.RATED_TOTAL, t)})
             for p, s, t in (("2026-09", 0.93, 410), ("2026-10", 0.945, 455), ("2026-11", 0.953, 490))]  # fmt: skip
    return ReportDocument(
        period="2026-11", period_kind=PeriodKind.MONTH,
        period_start=datetime.fromisoformat("2026-11-01T00:00:00+08:00"),
        period_end=datetime.fromisoformat("2026-12-01T00:00:00+08:00"),
        scope=ReportScope(region_code="360700000000", name_zh="赣州市"), audience=audience,
        generated_at=datetime.fromisoformat("2026-12-01T06:00:00+08:00"), summary=summary, views=views,
        trend=trend, footnotes=list(indicators.definitions(SETTINGS)), settings=SETTINGS,
    )  # fmt: skip
