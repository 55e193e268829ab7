"""A 通报 as a workbook (xlsxwriter): a summary sheet, one sheet per view, native Excel charts beside the data.

Native charts (not pictures) so that a department can restyle them and paste them into its own slides; the
figures are numbers with number formats (rates as 0.0%), so they sum and sort in Excel. Pure: bytes out.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from infra.reports import charts as chart_specs
from infra.reports.html import FLAG_ZH, title_of

if TYPE_CHECKING:
    from hub.reports.document import IndicatorDefinition, ReportDocument, ReportView

GRADE_COLOURS = [c for _, _, c in chart_specs.GRADES]


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "", title)[:28] or "sheet"
    base, n = name, 2
    while name in taken:
        name, n = f"{base[:26]}{n}", n + 1
    taken.add(name)
    return name


def render_xlsx(document: ReportDocument) -> bytes:
    import xlsxwriter

    defs: dict[str, IndicatorDefinition] = {d.code: d for d in document.footnotes}
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": title_of(document), "subject": "政务服务好差评通报", "author": "hcp-hub"})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "align": "center"})
    pct = book.add_format({"num_format": "0.0%", "border": 1})
    num = book.add_format({"num_format": "0", "border": 1})
    text = book.add_format({"border": 1})
    flagged = book.add_format({"border": 1, "bg_color": "#FDE8E8", "font_color": "#C00000"})
    taken: set[str] = set()

    def fmt_for(code: str) -> Any:
        return pct if code in defs and defs[code].unit == "ratio" else num

    # --- summary
    sheet = book.add_worksheet(_sheet_name("总体情况", taken))
    sheet.write(0, 0, title_of(document), title)
    sheet.write(1, 0, f"统计期间 {document.period}　范围 {document.scope.name_zh}　生成 "
                      f"{document.generated_at.isoformat(timespec='minutes')}")  # fmt: skip
    sheet.write_row(3, 0, ["指标", "数值", "分子", "分母", "指标代码"], head)
    row = 4
    for code, value in document.summary.values.items():
        name = defs[code].name_zh if code in defs else code
        sheet.write(row, 0, name, text)
        if value.value is None:
            sheet.write(row, 1, "—", text)
        else:
            sheet.write_number(row, 1, value.value, fmt_for(code))
        sheet.write(row, 2, value.numerator if value.numerator is not None else "", num)
        sheet.write(row, 3, value.denominator if value.denominator is not None else "", num)
        sheet.write(row, 4, code, text)
        row += 1
    row += 1
    sheet.write(row, 0, "评价等级分布", bold)
    grade_top = row + 1
    for index, (grade, zh, _) in enumerate(chart_specs.GRADES):
        sheet.write(grade_top + index, 0, zh, text)
        sheet.write_number(grade_top + index, 1, document.summary.grades.get(grade, 0), num)  # type: ignore[call-overload]
    if sum(document.summary.grades.values()):
        pie = book.add_chart({"type": "doughnut"})
        pie.add_series({"name": "评价等级分布", "categories": [sheet.name, grade_top, 0, grade_top + 4, 0],
                        "values": [sheet.name, grade_top, 1, grade_top + 4, 1],
                        "points": [{"fill": {"color": c}} for c in GRADE_COLOURS]})  # fmt: skip
        pie.set_title({"name": "评价等级分布"})
        sheet.insert_chart(3, 6, pie, {"x_scale": 1.1, "y_scale": 1.1})
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 4, 12)

    # --- one sheet per view
    for view in document.views:
        _view_sheet(book, view, defs, taken, head, text, flagged, fmt_for, num)

    # --- trend
    if document.trend:
        sheet = book.add_worksheet(_sheet_name("走势", taken))
        codes = [c for c in (chart_specs.SATISFACTION, chart_specs.BAD_RATE, chart_specs.TOTAL)
                 if any(c in p.values for p in document.trend)]  # fmt: skip
        sheet.write_row(0, 0, ["月份"] + [defs[c].name_zh if c in defs else c for c in codes], head)
        for r, point in enumerate(document.trend, start=1):
            sheet.write(r, 0, point.period, text)
            for c, code in enumerate(codes, start=1):
                found = point.values.get(code)
                if found is None or found.value is None:
                    sheet.write_blank(r, c, None, text)
                else:
                    sheet.write_number(r, c, found.value, fmt_for(code))
        line = book.add_chart({"type": "line"})
        for c, code in enumerate(codes, start=1):
            if code == chart_specs.TOTAL:
                continue
            last = len(document.trend)
            line.add_series({"name": [sheet.name, 0, c], "categories": [sheet.name, 1, 0, last, 0],
                             "values": [sheet.name, 1, c, last, c], "marker": {"type": "circle"}})  # fmt: skip
        line.set_title({"name": "满意率与差评率走势"})
        line.set_y_axis({"num_format": "0%"})
        sheet.insert_chart(0, len(codes) + 2, line)
        sheet.set_column(0, len(codes), 14)

    # --- definitions
    sheet = book.add_worksheet(_sheet_name("指标定义", taken))
    sheet.write_row(0, 0, ["指标", "代码", "分子", "分母", "说明", "依据", "Indicator", "Numerator", "Denominator"],
                    head)  # fmt: skip
    for r, d in enumerate(document.footnotes, start=1):
        sheet.write_row(r, 0, [d.name_zh, d.code, d.numerator_zh, d.denominator_zh or "", d.note_zh or "", d.rule or "",
                               d.name_en, d.numerator_en, d.denominator_en or ""], text)  # fmt: skip
    sheet.set_column(0, 0, 18)
    sheet.set_column(2, 4, 36)
    book.close()
    return out.getvalue()


def _view_sheet(book: Any, view: ReportView, defs: dict[str, IndicatorDefinition], taken: set[str], head: Any,
                text: Any, flagged: Any, fmt_for: Any, num: Any) -> None:  # fmt: skip
    sheet = book.add_worksheet(_sheet_name(view.title_zh, taken))
    has_grades = any(row.grades for row in view.rows)
    ranked = any(row.rank is not None for row in view.rows)
    heads = ["代码", "名称"] + [defs[c].name_zh if c in defs else c for c in view.indicators]
    grade_col = len(heads)
    if has_grades:
        heads += [zh for _, zh, _ in chart_specs.GRADES]
    rank_col = len(heads)
    if ranked:
        heads.append("排名")
    heads.append("提示")
    sheet.write_row(0, 0, heads, head)
    for r, row in enumerate(view.rows, start=1):
        is_flagged = "lowest_two_periods" in {str(f) for f in row.flags}
        sheet.write(r, 0, row.key, flagged if is_flagged else text)
        sheet.write(r, 1, row.label_zh, flagged if is_flagged else text)
        for c, code in enumerate(view.indicators, start=2):
            found = row.values.get(code)
            if found is None or found.value is None:
                sheet.write(r, c, "—", text)
            else:
                sheet.write_number(r, c, found.value, fmt_for(code))
        if has_grades:
            for i, (grade, _, _) in enumerate(chart_specs.GRADES):
                sheet.write_number(r, grade_col + i, row.grades.get(grade, 0), num)  # type: ignore[call-overload]
        if ranked:
            sheet.write(r, rank_col, row.rank if row.rank is not None else "", num)
        sheet.write(r, len(heads) - 1, "、".join(FLAG_ZH.get(str(f), str(f)) for f in row.flags),
                    flagged if is_flagged else text)  # fmt: skip
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 1, 28)
    sheet.set_column(2, len(heads), 11)
    sheet.freeze_panes(1, 2)
    last = len(view.rows)
    if last == 0:
        return
    anchor = (last + 3, 1)
    if has_grades:
        chart = book.add_chart({"type": "bar", "subtype": "percent_stacked"})
        for i, (_, zh, colour) in enumerate(chart_specs.GRADES):
            chart.add_series({"name": zh, "categories": [sheet.name, 1, 1, last, 1],
                              "values": [sheet.name, 1, grade_col + i, last, grade_col + i],
                              "fill": {"color": colour}, "gap": 60})  # fmt: skip
        chart.set_title({"name": f"{view.title_zh}：评价等级构成"})
        chart.set_y_axis({"reverse": True})
        chart.set_size({"width": 720, "height": max(260, 26 * last + 120)})
        sheet.insert_chart(*anchor, chart)
    elif view.indicators:
        code = view.indicators[0]
        chart = book.add_chart({"type": "bar"})
        chart.add_series({"name": defs[code].name_zh if code in defs else code,
                          "categories": [sheet.name, 1, 1, last, 1], "values": [sheet.name, 1, 2, last, 2],
                          "fill": {"color": "#F28E2B"}})  # fmt: skip
        chart.set_title({"name": view.title_zh})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        chart.set_size({"width": 640, "height": max(240, 24 * last + 100)})
        sheet.insert_chart(*anchor, chart)
