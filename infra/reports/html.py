"""A 通报 as one HTML page: Chinese, printable to A4 (CSS @page), charts inline as SVG, every indicator defined.

Pure: `render_html(document)` returns the page; nothing is fetched when it is opened (no script, no web font,
no remote image), so it reads the same from the reports bucket, an e-mail attachment or a USB stick.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape
from typing import TYPE_CHECKING, Any

from infra.reports import charts as chart_specs

if TYPE_CHECKING:
    from hub.reports.document import IndicatorDefinition, ReportDocument, ReportRow, ReportView

BEIJING = timezone(timedelta(hours=8))
PERIOD_ZH = {"day": "日", "week": "周", "month": "月度", "quarter": "季度", "year": "年度"}
AUDIENCE_ZH = {"management": "管理部门", "department": "承办单位", "operator": "运维", "public": "向社会公布"}
FLAG_ZH = {"lowest_two_periods": "连续两期末位", "no_ratings": "本期无评价"}

CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; color: #666; } }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", SimHei, sans-serif;
       font-size: 10.5pt; color: #1f2328; margin: 0 auto; max-width: 190mm; line-height: 1.5; }
h1 { font-size: 18pt; margin: 0 0 4pt; }
h2 { font-size: 13pt; border-left: 4pt solid #c00; padding-left: 6pt; margin: 14pt 0 6pt; break-after: avoid; }
.meta { color: #555; font-size: 9pt; margin-bottom: 8pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; font-size: 9pt; break-inside: auto; }
th, td { border: 0.5pt solid #bbb; padding: 2pt 3pt; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; text-align: center; white-space: normal; font-weight: normal; font-size: 8pt; }
td.label { text-align: left; white-space: nowrap; }
table.wide { font-size: 7.5pt; }
tr { break-inside: avoid; }
tr.flagged td { background: #fde8e8; }
.flag { color: #c00; font-weight: bold; }
.summary td.value { font-weight: bold; }
figure { margin: 6pt 0 10pt; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
ol.footnotes { font-size: 8.5pt; color: #333; padding-left: 16pt; }
ol.footnotes li { margin-bottom: 2pt; }
.en { color: #777; }
@media print { body { max-width: none; } h2 { break-before: auto; } }
"""


def period_title(document: ReportDocument) -> str:
    kind = str(document.period_kind)
    return f"{document.period}{PERIOD_ZH.get(kind, '')}"


def title_of(document: ReportDocument) -> str:
    return f"{document.scope.name_zh}政务服务“好差评”{period_title(document)}通报"


def definitions(document: ReportDocument) -> dict[str, IndicatorDefinition]:
    return {d.code: d for d in document.footnotes}


def formatted(value: Any, unit: str | None) -> str:
    """A rate as a percentage with one decimal; a count as an integer; no figure as —."""
    if value is None:
        return "—"
    if unit == "ratio" or (isinstance(value, float) and unit != "count" and 0 <= value <= 1 and not value.is_integer()):
        return f"{value * 100:.1f}%"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row_value(row: ReportRow, code: str, defs: dict[str, IndicatorDefinition]) -> str:
    found = row.values.get(code)
    unit = defs[code].unit if code in defs else None
    return formatted(None if found is None else found.value, unit)


def _summary(document: ReportDocument, defs: dict[str, IndicatorDefinition]) -> str:
    cells = []
    for number, (code, value) in enumerate(document.summary.values.items(), start=1):
        name = defs[code].name_zh if code in defs else code
        unit = defs[code].unit if code in defs else None
        note = f'<sup><a href="#def-{escape(code)}">{number}</a></sup>' if code in defs else ""
        detail = ""
        if value.numerator is not None and value.denominator is not None:
            detail = f"{value.numerator} / {value.denominator}"
        cells.append(f'<tr><td class="label">{escape(name)}{note}</td><td class="value">'
                     f"{escape(formatted(value.value, unit))}</td><td>{escape(detail)}</td></tr>")  # fmt: skip
    grades = document.summary.grades
    if grades:
        mix = "　".join(f"{chart_specs.GRADE_ZH[g]} {grades.get(g, 0)}" for g, _, _ in chart_specs.GRADES)  # type: ignore[call-overload]
        cells.append(f'<tr><td class="label">评价等级分布</td><td class="value" colspan="2">{escape(mix)}</td></tr>')
    return ('<table class="summary"><thead><tr><th>指标</th><th>数值</th><th>分子 / 分母</th></tr></thead><tbody>'
            + "".join(cells) + "</tbody></table>")  # fmt: skip


def _view_table(view: ReportView, defs: dict[str, IndicatorDefinition]) -> str:
    heads = ["名称"] + [defs[c].name_zh if c in defs else c for c in view.indicators]
    ranked = any(row.rank is not None for row in view.rows)
    has_grades = any(row.grades for row in view.rows)
    if has_grades:
        heads += [zh for _, zh, _ in chart_specs.GRADES]
    if ranked:
        heads.append("排名")
    heads.append("提示")
    lines = []
    for row in view.rows:
        flags = "、".join(FLAG_ZH.get(str(f), str(f)) for f in row.flags)
        cells = [f'<td class="label">{escape(row.label_zh)}</td>']
        cells += [f"<td>{escape(_row_value(row, code, defs))}</td>" for code in view.indicators]
        if has_grades:
            cells += [f"<td>{row.grades.get(g, 0)}</td>" for g, _, _ in chart_specs.GRADES]  # type: ignore[call-overload]
        if ranked:
            cells.append(f"<td>{'' if row.rank is None else row.rank}</td>")
        cells.append(f'<td class="label flag">{escape(flags)}</td>')
        css = ' class="flagged"' if row.flags and "lowest_two_periods" in {str(f) for f in row.flags} else ""
        lines.append(f"<tr{css}>{''.join(cells)}</tr>")
    if not lines:
        lines.append(f'<tr><td class="label" colspan="{len(heads)}">本期无数据</td></tr>')
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    wide = ' class="wide"' if len(heads) > 10 else ""
    return f"<table{wide}><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _footnotes(document: ReportDocument) -> str:
    items = []
    for d in document.footnotes:
        formula = escape(d.numerator_zh) + (f" ÷ {escape(d.denominator_zh)}" if d.denominator_zh else "")
        formula_en = escape(d.numerator_en) + (f" / {escape(d.denominator_en)}" if d.denominator_en else "")
        note = f"；{escape(d.note_zh)}" if d.note_zh else ""
        rule = f"（{escape(d.rule)}）" if d.rule else ""
        items.append(f'<li id="def-{escape(d.code)}"><b>{escape(d.name_zh)}</b>{rule}：{formula}{note}'
                     f' <span class="en">— {escape(d.name_en)}: {formula_en}</span></li>')  # fmt: skip
    return '<ol class="footnotes">' + "".join(items) + "</ol>"


def _grades_zh(grades: Any) -> str:
    wanted = {str(g) for g in grades}
    return "、".join(zh for code, zh, _ in chart_specs.GRADES if code in wanted)


def _settings(document: ReportDocument) -> str:
    s = document.settings
    good, satisfied = _grades_zh(s.good_grades), _grades_zh(s.satisfied_grades)
    default = "计入" if s.count_default_ratings else "不计入"
    return (f"好评：{escape(good)}；满意：{escape(satisfied)}；默认评价{default}评价总量与各项比率（另行单列）；"
            "不予采纳的评价不计入（R14、R17）。")  # fmt: skip


def render_html(document: ReportDocument, chart_svgs: list[tuple[str, str]] | None = None) -> str:
    """The page. `chart_svgs` ((id, svg) pairs) may be given when already rendered, e.g. for the XLSX too."""
    defs = definitions(document)
    if chart_svgs is None:
        chart_svgs = [(name, chart_specs.svg(spec)) for name, spec in chart_specs.charts(document)]
    generated = document.generated_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    start = document.period_start.astimezone(BEIJING).strftime("%Y-%m-%d")
    end = (document.period_end.astimezone(BEIJING) - timedelta(seconds=1)).strftime("%Y-%m-%d")
    audience = AUDIENCE_ZH.get(str(document.audience), str(document.audience))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title_of(document))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title_of(document))}</h1>",
        f'<div class="meta">统计期间：{start} 至 {end}（北京时间，按评价时间）　范围：{escape(document.scope.name_zh)}'
        f"　读者：{escape(audience)}　生成时间：{generated}<br>口径：{_settings(document)}</div>",
        "<h2>一、总体情况</h2>",
        _summary(document, defs),
    ]
    if chart_svgs:
        parts.append("<h2>二、图表</h2>")
        parts += [f'<figure id="chart-{escape(name)}" class="chart">{body}</figure>' for name, body in chart_svgs]
    numerals = "三四五六七八九十"
    for index, view in enumerate(document.views):
        number = numerals[index] if index < len(numerals) else str(index + 3)
        parts.append(f'<h2 id="view-{escape(str(view.view))}">{number}、{escape(view.title_zh)}'
                     f' <span class="en">{escape(view.title_en)}</span></h2>')  # fmt: skip
        parts.append(_view_table(view, defs))
    parts += ["<h2>指标定义</h2>", _footnotes(document), "</body></html>"]
    return "\n".join(parts)


def generated_label(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
