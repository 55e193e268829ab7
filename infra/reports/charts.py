"""The report's charts, as Vega-Lite specs rendered to SVG by `vl-convert-python` (no browser, no font needed).

The SVG keeps every label as `<text>`: the browser that shows the report draws the Chinese with its own fonts,
so a Lambda without a CJK font still renders a readable chart (vl-convert only measures the text to lay it out).
Each function is pure: a ReportDocument in, a spec (dict) out; `svg(spec)` renders one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.reports import indicators

if TYPE_CHECKING:
    from hub.reports.document import ReportDocument, ReportRow, ReportView

# Grade order and colours, best first (R1); the two bad ones in reds.
GRADES = (
    ("very_satisfied", "非常满意", "#1a7f37"),
    ("satisfied", "满意", "#4caf50"),
    ("basically_satisfied", "基本满意", "#c0c0c0"),
    ("dissatisfied", "不满意", "#f28e2b"),
    ("very_dissatisfied", "非常不满意", "#d62728"),
)
GRADE_ZH = {code: zh for code, zh, _ in GRADES}
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, SimHei, sans-serif"
FLAGGED = "#d62728"
PLAIN = "#4c78a8"

SATISFACTION = indicators.SATISFIED_RATE
BAD_RATE = indicators.BAD_RATE
BAD_COUNT = indicators.BAD_COUNT
TOTAL = indicators.RATED_TOTAL
# Rectification status (差评整改) of the period's work orders, from the summary's rates' counts.
RECTIFICATION = ("按时整改", "超时整改", "整改中", "超期未整改", "申诉成立（不予采纳）")


def _base(title: str, width: int = 520) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": {"text": title, "anchor": "start", "fontSize": 15},
        "width": width,
        "config": {
            "font": FONT,
            "view": {"stroke": None},
            "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelLimit": 220},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom"},
        },
    }


def value_of(row: ReportRow, code: str) -> float | int | None:
    found = row.values.get(code)
    return None if found is None else found.value


def grade_mix(view: ReportView, title: str = "各区县评价等级构成") -> dict[str, Any] | None:
    """Stacked bars, one per row (county, agency...), each grade's share of its counted ratings."""
    values = [
        {"label": row.label_zh, "grade": GRADE_ZH[grade], "order": index, "count": row.grades.get(grade, 0)}  # type: ignore[call-overload]
        for row in view.rows
        for index, (grade, _, _) in enumerate(GRADES)
        if sum(row.grades.values()) > 0
    ]
    if not values:
        return None
    spec = _base(title)
    spec |= {
        "data": {"values": values},
        "height": {"step": 26},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "label", "type": "nominal", "title": None, "sort": None},
            "x": {"field": "count", "type": "quantitative", "stack": "normalize", "title": "占比",
                  "axis": {"format": ".0%"}},
            "color": {"field": "grade", "type": "nominal", "title": "评价等级",
                      "scale": {"domain": [zh for _, zh, _ in GRADES], "range": [c for _, _, c in GRADES]}},
            "order": {"field": "order", "type": "quantitative"},
            "tooltip": [{"field": "label"}, {"field": "grade"}, {"field": "count", "title": "评价数"}],
        },
    }  # fmt: skip
    return spec


def trend(document: ReportDocument, title: str = "满意率与差评率走势（按月）") -> dict[str, Any] | None:
    """Lines: 满意率 and 差评率 of each month up to the report's."""
    values = []
    for point in document.trend:
        for code, name in ((SATISFACTION, "满意率"), (BAD_RATE, "差评率")):
            found = point.values.get(code)
            if found is not None and found.value is not None:
                values.append({"period": point.period, "indicator": name, "rate": found.value})
    if not values:
        return None
    spec = _base(title)
    spec |= {
        "data": {"values": values},
        "height": 220,
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "period", "type": "ordinal", "title": "月份", "axis": {"labelAngle": 0}},
            "y": {"field": "rate", "type": "quantitative", "title": None, "axis": {"format": ".0%"}},
            "color": {"field": "indicator", "type": "nominal", "title": None,
                      "scale": {"domain": ["满意率", "差评率"], "range": ["#1a7f37", FLAGGED]}},
            "tooltip": [{"field": "period"}, {"field": "indicator"}, {"field": "rate", "format": ".1%"}],
        },
    }  # fmt: skip
    return spec


def top_tags(view: ReportView, title: str = "差评问题分布（评价标签）") -> dict[str, Any] | None:
    """Bars: the most frequent bad-rating tags (第九条 dimensions), most first."""
    code = indicators.TAG_COUNT if any(indicators.TAG_COUNT in r.values for r in view.rows) else BAD_COUNT
    values = [{"tag": row.label_zh, "count": value_of(row, code) or 0} for row in view.rows]
    values = [v for v in values if v["count"]]
    if not values:
        return None
    spec = _base(title)
    spec |= {
        "data": {"values": values},
        "height": {"step": 24},
        "mark": {"type": "bar", "color": "#f28e2b"},
        "encoding": {
            "y": {"field": "tag", "type": "nominal", "title": None, "sort": "-x"},
            "x": {"field": "count", "type": "quantitative", "title": "差评数", "axis": {"tickMinStep": 1}},
            "tooltip": [{"field": "tag"}, {"field": "count", "title": "差评数"}],
        },
    }  # fmt: skip
    return spec


def rectification_counts(row: ReportRow) -> dict[str, int]:
    """The work orders by state: resolved on time, late, open, overdue now, appeals upheld (R10-R17)."""

    def part(code: str, side: str) -> int:
        found = row.values.get(code)
        return int(getattr(found, side) or 0) if found is not None else 0

    fixed, due = part(indicators.RECTIFICATION_RATE, "numerator"), part(indicators.RECTIFICATION_RATE, "denominator")
    on_time = part(indicators.ON_TIME_RATE, "numerator")
    overdue = min(int(value_of(row, indicators.OVERDUE_NOW) or 0), max(0, due - fixed))
    upheld = int(value_of(row, indicators.APPEALS_UPHELD) or 0)
    counts = (on_time, fixed - on_time, due - fixed - overdue, overdue, upheld)
    return dict(zip(RECTIFICATION, counts, strict=True))


def rectification(document: ReportDocument, title: str = "差评整改情况") -> dict[str, Any] | None:
    """Bars: the work orders of the period's bad ratings by state."""
    values = [{"status": name, "count": n} for name, n in rectification_counts(document.summary).items() if n]
    if not values:
        return None
    spec = _base(title)
    spec |= {
        "data": {"values": values},
        "height": {"step": 26},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "status", "type": "nominal", "title": None, "sort": None},
            "x": {"field": "count", "type": "quantitative", "title": "工单数", "axis": {"tickMinStep": 1}},
            "color": {"field": "status", "type": "nominal", "legend": None,
                      "scale": {"domain": list(RECTIFICATION),
                                "range": ["#1a7f37", "#f2b701", "#4c78a8", FLAGGED, "#9d9d9d"]}},
            "tooltip": [{"field": "status"}, {"field": "count", "title": "工单数"}],
        },
    }  # fmt: skip
    return spec


RANKED_SHOWN = 10  # bars at each end of a long ranking (2,000 staff would be a chart 44,000 px tall)


def ranking(view: ReportView, title: str) -> dict[str, Any] | None:
    """Bars of 满意率, best first; the rows ranked lowest two periods running in red, and said so."""
    values = []
    for row in view.rows:
        rate = value_of(row, SATISFACTION)
        if rate is None:
            continue
        flagged = any(str(flag) == "lowest_two_periods" for flag in row.flags)
        values.append({"name": row.label_zh + ("（连续两期末位）" if flagged else ""), "rate": rate,
                       "rank": row.rank if row.rank is not None else 10_000,
                       "status": "连续两期末位" if flagged else "其他"})  # fmt: skip
    if not values:
        return None
    if len(values) > 2 * RANKED_SHOWN:  # a slide shows the ends; the table below it ranks everyone
        values.sort(key=lambda v: v["rank"])
        ends = {id(v) for v in values[:RANKED_SHOWN] + values[-RANKED_SHOWN:]}
        values = [v for v in values if id(v) in ends or v["status"] != "其他"]
        title += f"（前{RANKED_SHOWN}名与后{RANKED_SHOWN}名）"
    spec = _base(title)
    spec |= {
        "data": {"values": values},
        "height": {"step": 22},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "name", "type": "nominal", "title": None, "sort": {"field": "rank", "order": "ascending"}},
            "x": {"field": "rate", "type": "quantitative", "title": "满意率", "axis": {"format": ".0%"},
                  "scale": {"domain": [0, 1]}},
            "color": {"field": "status", "type": "nominal", "title": None,
                      "scale": {"domain": ["其他", "连续两期末位"], "range": [PLAIN, FLAGGED]}},
            "tooltip": [{"field": "name"}, {"field": "rate", "format": ".1%"}],
        },
    }  # fmt: skip
    return spec


def charts(document: ReportDocument) -> list[tuple[str, dict[str, Any]]]:
    """Every chart the document has data for, as (id, spec), in the order the report shows them."""
    from hub.reports.document import ViewKind

    found: list[tuple[str, dict[str, Any] | None]] = []
    county = document.view(ViewKind.BY_COUNTY)
    agency = document.view(ViewKind.BY_AGENCY)
    if county is not None and len(county.rows) > 0:
        found.append(("grade-mix", grade_mix(county)))
    elif agency is not None:
        found.append(("grade-mix", grade_mix(agency, "各部门评价等级构成")))
    found.append(("trend", trend(document)))
    tags = document.view(ViewKind.BY_TAG)
    if tags is not None:
        found.append(("top-tags", top_tags(tags)))
    found.append(("rectification", rectification(document)))
    staff = document.view(ViewKind.BY_STAFF)
    if staff is not None:
        found.append(("staff-ranking", ranking(staff, "窗口工作人员满意率排名")))
    windows = document.view(ViewKind.BY_WINDOW)
    if windows is not None:
        found.append(("window-ranking", ranking(windows, "窗口满意率排名")))
    return [(name, spec) for name, spec in found if spec is not None]


def svg(spec: dict[str, Any]) -> str:
    """The chart as SVG, labels kept as <text> (the viewer's fonts draw them)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(spec))
