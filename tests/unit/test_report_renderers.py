"""The report renderers (issue 13 items 4-5, R19): HTML for print, XLSX with native charts, JSON as published."""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest

from hub.reports.document import Audience, ReportDocument, ViewKind
from infra.reports import FORMATS, render
from infra.reports import charts as chart_specs
from tests.reports_sample import STAFF, sample_document


@pytest.fixture(scope="module")
def html() -> str:
    return render(sample_document(), "html").body.decode("utf-8")


def test_html_prints_to_a4_and_fetches_nothing(html: str) -> None:
    assert "@page" in html and "size: A4" in html
    assert "<script" not in html  # nothing runs, nothing is fetched when it is opened
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert "赣州市政务服务“好差评”2026-11月度通报" in html


def test_html_charts_are_inline_svg_with_their_labels_as_text(html: str) -> None:
    figures = re.findall(r'<figure id="chart-([a-z-]+)" class="chart">(.*?)</figure>', html, re.S)
    names = [name for name, _ in figures]
    assert names == ["grade-mix", "trend", "top-tags", "rectification", "staff-ranking"]
    for name, svg in figures:
        assert svg.startswith("<svg"), name
        texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts), f"{name}: no Chinese <text>"
    grade_mix = dict(figures)["grade-mix"]
    assert all(county in grade_mix for county in ("章贡区", "赣县区", "信丰县"))


def test_html_flags_the_staff_member_ranked_lowest_two_periods_running(html: str) -> None:
    assert "张伟（连续两期末位）" in html  # in the ranking chart
    assert re.search(r'<tr class="flagged"><td class="label">张伟</td>', html)  # and the table row


def test_every_indicator_shown_is_defined_in_a_footnote(html: str) -> None:
    document = sample_document()
    shown = set(document.summary.values) | {c for v in document.views for c in v.indicators}
    for code in shown:
        assert f'<li id="def-{code}">' in html, code
    assert "满意率</b>（R1）：评价等级为非常满意、满意、基本满意的评价数 ÷ 评价总量" in html


def test_public_report_names_no_staff() -> None:
    page = render(sample_document(Audience.PUBLIC), "html").body.decode("utf-8")
    for _, name, _, _ in STAFF:
        assert name not in page
    assert "staff-ranking" not in page


def test_xlsx_has_a_sheet_per_view_each_with_a_native_chart() -> None:
    document = sample_document()
    rendered = render(document, "xlsx")
    assert rendered.content_type == FORMATS["xlsx"]
    book = openpyxl.load_workbook(io.BytesIO(rendered.body))
    titles = book.sheetnames
    assert titles[0] == "总体情况" and titles[-1] == "指标定义"
    for view in document.views:
        sheet = book[view.title_zh]
        assert len(sheet._charts) == 1, view.view  # a chart Excel draws, not a picture
        assert sheet.cell(1, 2).value == "名称"
        assert [sheet.cell(r, 2).value for r in range(2, len(view.rows) + 2)] == [r.label_zh for r in view.rows]
    county = book["各区县评价情况"]
    chart = county._charts[0]
    assert chart.grouping == "percentStacked" and len(chart.series) == 5
    assert book["走势"]._charts[0].tagname == "lineChart"
    # a rate is a number formatted as a percentage, so it sorts and sums in Excel
    rate = county.cell(3, 4)
    assert rate.value == pytest.approx((90 + 50 + 15) / 167) and rate.number_format == "0.0%"


def test_json_is_the_document_itself() -> None:
    document = sample_document()
    body = render(document, "json").body
    assert ReportDocument.model_validate(json.loads(body)) == document


def test_a_chart_without_data_is_left_out() -> None:
    document = sample_document()
    empty = document.model_copy(update={"trend": []})
    assert "trend" not in [name for name, _ in chart_specs.charts(empty)]


def test_a_long_ranking_charts_its_ends_and_every_flagged_row_while_the_table_ranks_everyone() -> None:
    """2,000 staff would be a chart 44,000 px tall: the slide shows the best and the lowest ten, and every
    member flagged lowest two periods running (R19), whatever their rank."""
    document = sample_document()
    staff = document.view(ViewKind.BY_STAFF)
    assert staff is not None
    [template, _, flagged] = staff.rows
    rows = [template.model_copy(update={"key": f"S{n:04}", "label_zh": f"员工{n}", "rank": n}) for n in range(1, 61)]
    rows[29] = flagged.model_copy(update={"rank": 30})  # mid-table, but flagged
    spec = chart_specs.ranking(staff.model_copy(update={"rows": rows}), "排名")
    assert spec is not None
    shown = [v["name"] for v in spec["data"]["values"]]
    assert len(shown) == 21 and shown[:10] == [f"员工{n}" for n in range(1, 11)]
    assert shown[-10:] == [f"员工{n}" for n in range(51, 61)] and any("连续两期末位" in name for name in shown)
    assert "前10名与后10名" in spec["title"]["text"]
