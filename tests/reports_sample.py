"""A realistic composed report for the renderers' tests: the city of 赣州 in 2026-11, three counties.

Built as a ReportDocument directly (the renderers are pure functions of one); the figures are consistent
(numerator / denominator = value), so a test can recount what a page or a sheet shows.
"""

from __future__ import annotations

from datetime import datetime

from hub.reports.document import (
    Audience,
    Dimension,
    Flag,
    IndicatorDefinition,
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
DEFINITIONS = [
    IndicatorDefinition(code="total", name_zh="评价总量", name_en="Ratings", unit="count",
                        numerator_zh="统计期内的评价数（不含不予采纳的评价）",
                        numerator_en="ratings in the period, not-adopted ones excluded", rule="R14, R17"),
    IndicatorDefinition(code="satisfaction_rate", name_zh="满意率", name_en="Satisfaction rate", unit="ratio",
                        numerator_zh="非常满意、满意、基本满意的评价数", numerator_en="very satisfied, satisfied and "
                        "basically satisfied ratings", denominator_zh="评价总量", denominator_en="ratings"),
    IndicatorDefinition(code="bad_count", name_zh="差评数", name_en="Bad ratings", unit="count",
                        numerator_zh="不满意、非常不满意的评价数", numerator_en="dissatisfied and very dissatisfied",
                        rule="R1"),
    IndicatorDefinition(code="bad_rate", name_zh="差评率", name_en="Bad-rating rate", unit="ratio",
                        numerator_zh="差评数", numerator_en="bad ratings", denominator_zh="评价总量",
                        denominator_en="ratings"),
    IndicatorDefinition(code="orders_resolved_on_time", name_zh="按时整改数", name_en="Resolved on time",
                        unit="count", numerator_zh="在期限内整改完成的工单数", numerator_en="orders resolved in time"),
    IndicatorDefinition(code="orders_resolved_late", name_zh="超时整改数", name_en="Resolved late", unit="count",
                        numerator_zh="超过期限后整改完成的工单数", numerator_en="orders resolved after the deadline"),
    IndicatorDefinition(code="orders_open", name_zh="整改中", name_en="Open orders", unit="count",
                        numerator_zh="尚未办结、未逾期的工单数", numerator_en="orders open, not overdue"),
    IndicatorDefinition(code="orders_overdue", name_zh="逾期未整改", name_en="Overdue orders", unit="count",
                        numerator_zh="已逾期仍未办结的工单数", numerator_en="orders past their deadline, open"),
]  # fmt: skip


def _v(code: str, value: float | int | None, numerator: int | None = None, denominator: int | None = None):
    return IndicatorValue(code=code, value=value, numerator=numerator, denominator=denominator)


def _row(dimension: Dimension, key: str, label: str, grades: tuple[int, ...], **extra) -> ReportRow:
    total = sum(grades)
    bad = grades[3] + grades[4]
    values = {
        "total": _v("total", total),
        "satisfaction_rate": _v("satisfaction_rate", (total - bad) / total if total else None, total - bad, total),
        "bad_count": _v("bad_count", bad),
        "bad_rate": _v("bad_rate", bad / total if total else None, bad, total),
    }
    return ReportRow(dimension=dimension, key=key, label_zh=label, values=values,
                     grades=dict(zip(GRADES, grades, strict=True)), **extra)  # fmt: skip


COUNTIES = [("360702", "章贡区", (120, 60, 12, 5, 3)), ("360704", "赣县区", (90, 50, 15, 8, 4)),
            ("360721", "信丰县", (70, 40, 10, 2, 1))]  # fmt: skip
STAFF = [("S001", "王芳", (30, 10, 2, 0, 0), []), ("S002", "李强", (20, 12, 5, 1, 0), []),
         ("S003", "张伟", (8, 9, 6, 4, 3), [Flag.LOWEST_TWO_PERIODS])]  # fmt: skip
TAGS = [("STAFF_ATTITUDE", "服务态度", 7), ("ITEM_EFFICIENCY", "办事效率", 6), ("ITEM_MATERIALS", "办事材料", 5),
        ("PLATFORM_STABILITY", "平台稳定性", 3)]  # fmt: skip


def sample_document(audience: Audience = Audience.MANAGEMENT) -> ReportDocument:
    counties = [_row(Dimension.COUNTY, code, name, grades) for code, name, grades in COUNTIES]
    total_grades = tuple(sum(c[2][i] for c in COUNTIES) for i in range(5))
    summary = _row(Dimension.SCOPE, "360700", "赣州市", total_grades)
    summary = summary.model_copy(update={"values": summary.values | {
        "orders_resolved_on_time": _v("orders_resolved_on_time", 15),
        "orders_resolved_late": _v("orders_resolved_late", 4),
        "orders_open": _v("orders_open", 3), "orders_overdue": _v("orders_overdue", 1)}})  # fmt: skip
    staff = [_row(Dimension.STAFF, key, name, grades, rank=rank, flags=flags)
             for rank, (key, name, grades, flags) in enumerate(STAFF, start=1)]  # fmt: skip
    tags = [ReportRow(dimension=Dimension.TAG, key=code, label_zh=name, values={"bad_count": _v("bad_count", n)})
            for code, name, n in TAGS]  # fmt: skip
    views = [
        ReportView(view=ViewKind.BY_COUNTY, title_zh="各区县评价情况", title_en="By county",
                   indicators=["total", "satisfaction_rate", "bad_count", "bad_rate"], rows=counties),
        ReportView(view=ViewKind.BY_TAG, title_zh="差评问题分布", title_en="Bad ratings by tag",
                   indicators=["bad_count"], rows=tags),
    ]  # fmt: skip
    if audience != Audience.PUBLIC:
        views.append(ReportView(view=ViewKind.BY_STAFF, title_zh="窗口工作人员评价情况", title_en="By staff member",
                                indicators=["total", "satisfaction_rate", "bad_count"], rows=staff))  # fmt: skip
    trend = [TrendPoint(period=p, values={"satisfaction_rate": _v("satisfaction_rate", s),
                                          "bad_rate": _v("bad_rate", 1 - s), "total": _v("total", t)})
             for p, s, t in (("2026-09", 0.93, 410), ("2026-10", 0.945, 455), ("2026-11", 0.953, 490))]  # fmt: skip
    return ReportDocument(
        period="2026-11", period_kind=PeriodKind.MONTH,
        period_start=datetime.fromisoformat("2026-11-01T00:00:00+08:00"),
        period_end=datetime.fromisoformat("2026-12-01T00:00:00+08:00"),
        scope=ReportScope(region_code="360700000000", name_zh="赣州市"), audience=audience,
        generated_at=datetime.fromisoformat("2026-12-01T06:00:00+08:00"), summary=summary, views=views,
        trend=trend, footnotes=DEFINITIONS, settings=ReportSettings(),
    )  # fmt: skip
