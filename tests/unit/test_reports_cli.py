"""`hcp reports show` for people: aligned tables, Chinese by display width (issue 13 item 6)."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from cli.reports_cmd import readable
from cli.table import display_width
from tests.reports_sample import sample_document


def test_the_report_prints_as_tables_aligned_by_display_width() -> None:
    text = readable(json.loads(sample_document().model_dump_json()))
    lines = text.splitlines()
    assert lines[0] == "赣州市 2026-11 通报（management）"
    county = lines[lines.index("各区县评价情况") + 1 : lines.index("各区县评价情况") + 5]
    header, rows = county[0], county[1:]
    # the 满意率 column starts at the same terminal cell on every line, whatever the Chinese before it
    start = display_width(header[: header.index("满意率")])
    for row in rows:
        cells = row.split()
        assert display_width(row[: row.index(cells[3])]) == start, (header, row)
    assert "张伟" in text and "连续两期末位" in text
    assert "95.3%" in text  # 满意率 467 / 490


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reports", "show", "--period", "2026-11"], "--region or --agency"),
        (["reports", "show", "--period", "2026-11", "--region", "360704", "--format", "html"], "--out FILE"),
    ],
)
def test_unusable_arguments_exit_2_before_any_call(argv, message, capsys) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
