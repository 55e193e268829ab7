"""`hcp calendar due DATE N` (DESIGN §1 "Working days"; rules R5, R11, R12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from hub.calendar import OFFICIAL_YEARS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "calendar"
NOTICE_2027 = str(FIXTURES / "2027.json")

needs_2027_unknown = pytest.mark.skipif(
    2027 in OFFICIAL_YEARS, reason="chinesecalendar now covers 2027: move the fixtures to its first unknown year"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["calendar", "due", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param("2026-09-30", "10", "2026-10-20", id="R12-resolve-10-working-days"),
        pytest.param("2026-09-30", "1", "2026-10-08", id="R11-reply-1-working-day"),
        pytest.param("2026-09-30", "2", "2026-10-09", id="R12-contact-2-working-days"),
        pytest.param("2026-11-27", "5", "2026-12-04", id="R5-rating-window-5-working-days"),
        pytest.param("2026-10-09", "1", "2026-10-10", id="adjusted-working-saturday"),
        pytest.param("2026-11-28", "0", "2026-11-28", id="n-0-is-the-same-day"),
    ],
)
def test_due_prints_the_nth_working_day(capsys: pytest.CaptureFixture[str], start: str, n: str, expected: str) -> None:
    assert run(capsys, start, n) == (0, expected + "\n", "")


def test_an_aware_time_counts_from_its_shanghai_date(capsys: pytest.CaptureFixture[str]) -> None:
    """18:00 UTC on 09-30 is already 10-01 in Shanghai."""
    assert run(capsys, "2026-09-30T09:00:00+00:00", "2") == (0, "2026-10-09\n", "")
    assert run(capsys, "2026-09-30T18:00:00+00:00", "2") == (0, "2026-10-09\n", "")
    assert run(capsys, "2026-11-26T23:30:00+08:00", "5") == (0, "2026-12-03\n", "")
    assert run(capsys, "2026-11-26T16:30:00Z", "5") == (0, "2026-12-04\n", "")


@needs_2027_unknown
def test_a_2027_due_date_is_provisional_without_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "2027-09-30", "1") == (0, "2027-10-01 provisional\n", "")
    assert run(capsys, "2026-12-29", "3") == (0, "2027-01-01 provisional\n", "")


@needs_2027_unknown
def test_a_2027_notice_skips_its_holidays_and_counts_its_adjusted_workdays(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "2027-09-30", "1", "--notice", NOTICE_2027) == (0, "2027-10-08\n", "")
    assert run(capsys, "2027-09-30", "2", "--notice", NOTICE_2027) == (0, "2027-10-09\n", "")
    assert run(capsys, "2026-12-29", "3", "--notice", NOTICE_2027) == (0, "2027-01-04\n", "")


def test_explain_lists_every_skipped_and_counted_day(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "2026-09-30", "10", "--explain")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "2026-10-20"
    assert lines[1] == "start     2026-09-30 Wed  not counted"
    assert "skipped   2026-10-01 Thu  holiday 国庆节 National Day" in lines
    assert "counted   2026-10-08 Thu  working day 1" in lines
    assert "counted   2026-10-10 Sat  working day 3, adjusted workday (调休) for 国庆节 National Day" in lines
    assert "skipped   2026-10-11 Sun  weekend" in lines
    assert "counted   2026-10-20 Tue  working day 10" in lines
    assert sum(line.startswith("skipped ") for line in lines) == 10  # 10-01..07, 10-11, 10-17, 10-18
    assert sum(line.startswith("counted ") for line in lines) == 10
    assert lines[-1] == "deadline  2026-10-20T23:59:59+08:00  (10 working days counted, 10 days skipped)"


@needs_2027_unknown
def test_explain_says_what_is_provisional(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "2026-12-30", "2", "--explain")
    lines = out.splitlines()
    assert lines[0] == "2027-01-01 provisional"
    assert "counted   2026-12-31 Thu  working day 1" in lines
    assert "counted   2027-01-01 Fri  working day 2  [provisional: no calendar for 2027, Monday–Friday]" in lines
    assert lines[-1].startswith("provisional: no official calendar or notice for 2027;")


@needs_2027_unknown
def test_explain_names_the_loaded_notice(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "2027-04-30", "1", "--explain", "--notice", NOTICE_2027)
    lines = out.splitlines()
    assert lines[0] == "2027-05-06"
    assert lines[1] == f"notice    2027  国务院办公厅关于2027年部分节假日安排的通知 ({NOTICE_2027})"
    assert "skipped   2027-05-01 Sat  holiday 劳动节 Labour Day" in lines
    assert not any("provisional" in line for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2026-02-30", "1"], "DATE '2026-02-30' is not a date"),
        (["30/09/2026", "1"], "DATE must be YYYY-MM-DD or an ISO 8601 time"),
        (["20260930", "1"], "DATE must be YYYY-MM-DD or an ISO 8601 time"),
        (["2026-W40-3", "1"], "DATE must be YYYY-MM-DD or an ISO 8601 time"),
        (["2026-09-30T25:00:00+08:00", "1"], "DATE must be YYYY-MM-DD or an ISO 8601 time"),
        (["2026-09-30T18:00:00", "1"], "has no UTC offset"),
        (["2026-09-30", "-1"], "N must be a whole number of working days, 0 or more, got '-1'"),
        (["2026-09-30", "two"], "N must be a whole number"),
        (["2026-09-30", "1.5"], "N must be a whole number"),
        (["9999-12-30", "3"], "past the last date"),
        (["2026-09-30", "1", "--notice", "/nonexistent/2027.json"], "cannot read notice /nonexistent/2027.json"),
        (["2026-09-30", "1", "--notice", str(FIXTURES / "invalid-2027.json")], "is not a valid notice"),
    ],
)
def test_unusable_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith("hcp: ")
    assert message in err


def test_the_invalid_fixture_names_its_problems(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "2026-09-30", "1", "--notice", str(FIXTURES / "invalid-2027.json"))
    assert "2027-10-07 is in two holidays" in err
    assert "adjusted workday 2027-10-11 is a Monday" in err


@needs_2027_unknown
def test_two_notices_for_one_year_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "2027-09-30", "1", "--notice", NOTICE_2027, "--notice", NOTICE_2027)
    assert code == 2
    assert "are both notices for 2027" in err


def test_a_notice_for_an_official_year_needs_force(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    notice = {
        "year": 2026,
        "title": "国务院办公厅关于2026年部分节假日安排的通知（更正）",
        "holidays": [{"name_en": "National Day", "name_zh": "国庆节", "start": "2026-10-01", "end": "2026-10-08"}],
    }
    path = tmp_path / "2026.json"
    path.write_text(json.dumps(notice, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(capsys, "2026-09-30", "1", "--notice", str(path))
    assert (code, out) == (2, "")
    assert "already covers 2026; add --force" in err
    assert run(capsys, "2026-09-30", "1", "--notice", str(path), "--force") == (0, "2026-10-09\n", "")


def test_calendar_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["calendar"])
    assert info.value.code == 2


def test_the_module_entry_point_prints_the_r12_due_date() -> None:
    """R12 through the real entry point: `python -m cli calendar due 2026-09-30 10`."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "calendar", "due", "2026-09-30", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "2026-10-20\n", "")
