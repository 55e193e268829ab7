"""The working-day calendar (DESIGN §1 "Working days", §5 calendar note; rules R5, R11, R12, R17)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.calendar import (
    OFFICIAL_YEARS,
    SHANGHAI,
    DayInfo,
    NoticeInvalid,
    NoticeRefused,
    WorkingDayCalendar,
    YearNotice,
    local_date,
    parse_notice,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calendar"
D = dt.date
ANTI_FASCIST_70TH_ZH = "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"


def notice_2027() -> YearNotice:
    return parse_notice((FIXTURES / "2027.json").read_bytes(), "2027.json")


@pytest.fixture
def cal() -> WorkingDayCalendar:
    return WorkingDayCalendar()


@pytest.fixture
def cal_2027() -> WorkingDayCalendar:
    if 2027 in OFFICIAL_YEARS:  # pragma: no cover - only after a chinesecalendar upgrade
        pytest.skip("chinesecalendar now covers 2027: move the override fixture to its first unknown year")
    return WorkingDayCalendar([notice_2027()])


def raw_notice(**changes: Any) -> dict[str, Any]:
    """The 2027 fixture as a dict, with top-level fields replaced."""
    data = json.loads((FIXTURES / "2027.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def problems_of(data: dict[str, Any]) -> str:
    with pytest.raises(NoticeInvalid) as info:
        parse_notice(json.dumps(data, ensure_ascii=False), "test.json")
    return str(info.value)


# --------------------------------------------------------------------------------------------------
# The official calendar (chinesecalendar), 2026


def test_r11_reply_within_1_working_day_after_2026_09_30_is_2026_10_08(cal: WorkingDayCalendar) -> None:
    """R11: the National Day holiday (10-01..10-07) is skipped."""
    due = cal.add_working_days(D(2026, 9, 30), 1)
    assert due.date == D(2026, 10, 8)
    assert not due.provisional
    assert [d.date for d in due.skipped] == [D(2026, 10, day) for day in range(1, 8)]
    assert {(d.reason, d.holiday_en, d.holiday_zh) for d in due.skipped} == {
        ("holiday", "National Day", "国庆节")
    }
    assert [d.date for d in due.counted] == [D(2026, 10, 8)]


def test_r12_contact_within_2_working_days_after_2026_09_30_is_2026_10_09(cal: WorkingDayCalendar) -> None:
    assert cal.add_working_days(D(2026, 9, 30), 2).date == D(2026, 10, 9)


def test_r12_resolve_within_10_working_days_after_2026_09_30_is_2026_10_20(cal: WorkingDayCalendar) -> None:
    """R12: counts the adjusted working Saturday 10-10 (调休)."""
    due = cal.add_working_days(D(2026, 9, 30), 10)
    assert due.date == D(2026, 10, 20)
    assert D(2026, 10, 10) in [d.date for d in due.counted]
    assert len(due.counted) == 10


def test_r5_rating_window_of_5_working_days_after_friday_2026_11_27(cal: WorkingDayCalendar) -> None:
    deadline = cal.deadline(dt.datetime(2026, 11, 27, 15, 30, tzinfo=SHANGHAI), 5)
    assert deadline.date == D(2026, 12, 4)
    assert deadline.at.isoformat() == "2026-12-04T23:59:59+08:00"
    assert not deadline.provisional


def test_2026_10_10_saturday_is_an_adjusted_workday(cal: WorkingDayCalendar) -> None:
    day = cal.day(D(2026, 10, 10))
    assert day == DayInfo(D(2026, 10, 10), True, "adjusted_workday", "National Day", "国庆节", False)
    assert cal.is_workday(D(2026, 10, 10))


@pytest.mark.parametrize(
    ("day", "reason", "en", "zh"),
    [
        (D(2026, 1, 1), "holiday", "New Year's Day", "元旦"),
        (D(2026, 2, 17), "holiday", "Spring Festival", "春节"),
        (D(2026, 4, 6), "holiday", "Tomb-sweeping Day", "清明节"),
        (D(2026, 5, 5), "holiday", "Labour Day", "劳动节"),
        (D(2026, 6, 19), "holiday", "Dragon Boat Festival", "端午节"),
        (D(2026, 9, 25), "holiday", "Mid-autumn Festival", "中秋节"),
        (D(2015, 9, 3), "holiday", "Anti-Fascist 70th Day", ANTI_FASCIST_70TH_ZH),
        (D(2026, 2, 14), "adjusted_workday", "Spring Festival", "春节"),
        (D(2026, 11, 28), "weekend", None, None),
        (D(2026, 11, 27), "workday", None, None),
    ],
)
def test_days_carry_reason_and_english_and_chinese_holiday_names(
    cal: WorkingDayCalendar, day: dt.date, reason: str, en: str | None, zh: str | None
) -> None:
    info = cal.day(day)
    assert (info.reason, info.holiday_en, info.holiday_zh, info.provisional) == (reason, en, zh, False)
    assert info.workday == (reason in ("workday", "adjusted_workday"))


def test_every_official_holiday_name_has_a_chinese_name(cal: WorkingDayCalendar) -> None:
    for day in chinese_calendar.holidays:
        info = cal.day(day)
        assert info.holiday_zh and info.holiday_zh != info.holiday_en


def test_deadline_starts_from_the_shanghai_calendar_date_of_an_aware_moment(cal: WorkingDayCalendar) -> None:
    """DESIGN §1: X is converted to Asia/Shanghai first; 16:30 UTC Thursday is 00:30 Friday there."""
    thursday_evening = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)  # 23:00 Thursday in Shanghai
    friday_early = dt.datetime(2026, 11, 26, 16, 30, tzinfo=dt.UTC)  # 00:30 Friday in Shanghai
    assert cal.deadline(thursday_evening, 5).date == D(2026, 12, 3)
    assert cal.deadline(friday_early, 5).date == D(2026, 12, 4)
    in_new_york = dt.datetime(2026, 11, 26, 11, 30, tzinfo=ZoneInfo("America/New_York"))  # 00:30 Fri
    assert cal.deadline(in_new_york, 5).at.isoformat() == "2026-12-04T23:59:59+08:00"


def test_naive_datetimes_are_refused(cal: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.deadline(dt.datetime(2026, 9, 30, 12, 0), 1)
    with pytest.raises(ValueError, match="naive"):
        local_date(dt.datetime(2026, 9, 30, 12, 0))


def test_datetimes_are_not_taken_for_dates(cal: WorkingDayCalendar) -> None:
    """Taking a datetime's date part would skip the conversion to Asia/Shanghai."""
    moment = dt.datetime(2026, 9, 30, 20, 0, tzinfo=dt.UTC)
    with pytest.raises(TypeError, match="local_date"):
        cal.add_working_days(moment, 1)
    with pytest.raises(TypeError):
        cal.day(moment)


def test_n_zero_is_the_same_day_and_negative_n_is_refused(cal: WorkingDayCalendar) -> None:
    saturday = D(2026, 11, 28)
    due = cal.add_working_days(saturday, 0)
    assert (due.date, due.provisional, due.days) == (saturday, False, ())
    assert cal.deadline(dt.datetime(2026, 11, 28, 9, tzinfo=SHANGHAI), 0).at.isoformat() == (
        "2026-11-28T23:59:59+08:00"
    )
    with pytest.raises(ValueError, match="0 or more"):
        cal.add_working_days(saturday, -1)
    with pytest.raises(TypeError):
        cal.add_working_days(saturday, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cal.add_working_days(saturday, True)


def test_past_the_last_date_is_a_value_error_not_a_crash(cal: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="past the last date"):
        cal.add_working_days(D(9999, 12, 30), 5)
    with pytest.raises(ValueError, match="past the last date"):
        cal.add_working_days(D(2026, 1, 1), 10**12)  # refused before walking, not after minutes


def test_counting_working_days_looks_each_official_date_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-date lookups are cached: 200 fresh calendars counting 300 working days ask chinesecalendar about
    each date at most once per process (counted, not timed: a timing would say more about the machine)."""
    asked: list[dt.date] = []
    original = chinese_calendar.get_holiday_detail

    def counting(day: dt.date) -> Any:
        asked.append(day)
        return original(day)

    monkeypatch.setattr(chinese_calendar, "get_holiday_detail", counting)
    for i in range(200):
        WorkingDayCalendar().add_working_days(D(2004, 1, 1) + dt.timedelta(days=i * 37), 300)

    assert len(asked) == len(set(asked))


# --------------------------------------------------------------------------------------------------
# Years chinesecalendar does not know: provisional, or filled by a notice


def test_2027_without_a_notice_is_monday_to_friday_and_provisional(cal: WorkingDayCalendar) -> None:
    """DESIGN §5: never a silent guess — Mon–Fri, marked provisional, no crash."""
    assert cal.year_source(2027) == "provisional"
    assert cal.day(D(2027, 10, 1)) == DayInfo(D(2027, 10, 1), True, "workday", provisional=True)
    assert cal.day(D(2027, 10, 2)).reason == "weekend"
    due = cal.add_working_days(D(2027, 9, 30), 1)
    assert (due.date, due.provisional) == (D(2027, 10, 1), True)
    deadline = cal.deadline(dt.datetime(2027, 9, 30, 10, tzinfo=SHANGHAI), 10)
    assert deadline.provisional
    assert deadline.at.isoformat() == "2027-10-14T23:59:59+08:00"


def test_a_count_that_crosses_into_an_unknown_year_is_provisional(cal: WorkingDayCalendar) -> None:
    due = cal.add_working_days(D(2026, 12, 29), 2)  # Wed 12-30, Thu 12-31: all official
    assert (due.date, due.provisional) == (D(2026, 12, 31), False)
    due = cal.add_working_days(D(2026, 12, 29), 3)  # reaches Fri 2027-01-01
    assert (due.date, due.provisional) == (D(2027, 1, 1), True)


@pytest.mark.parametrize("year", [2027, 2030, 2100, 2999, 1999])
def test_any_unknown_year_works_provisionally(cal: WorkingDayCalendar, year: int) -> None:
    due = cal.add_working_days(D(year, 3, 1), 20)
    assert due.provisional
    assert cal.is_workday(due.date)


def test_with_the_2027_notice_holidays_are_skipped_and_adjusted_workdays_counted(
    cal_2027: WorkingDayCalendar,
) -> None:
    assert cal_2027.year_source(2027) == "override"
    due = cal_2027.add_working_days(D(2027, 9, 30), 1)  # 10-01..10-07 National Day
    assert (due.date, due.provisional) == (D(2027, 10, 8), False)
    assert {d.holiday_zh for d in due.skipped} == {"国庆节"}
    due = cal_2027.add_working_days(D(2027, 9, 30), 2)  # Saturday 10-09 is worked
    assert (due.date, due.provisional) == (D(2027, 10, 9), False)
    assert cal_2027.day(D(2027, 10, 9)) == DayInfo(D(2027, 10, 9), True, "adjusted_workday")
    assert cal_2027.day(D(2027, 5, 8)) == DayInfo(
        D(2027, 5, 8), True, "adjusted_workday", "Labour Day", "劳动节"
    )
    assert cal_2027.day(D(2027, 2, 10)) == DayInfo(
        D(2027, 2, 10), False, "holiday", "Spring Festival", "春节"
    )
    assert cal_2027.day(D(2027, 3, 10)) == DayInfo(D(2027, 3, 10), True, "workday")
    deadline = cal_2027.deadline(dt.datetime(2027, 9, 24, 9, tzinfo=SHANGHAI), 5)
    # Mon 27, Tue 28, Wed 29, Thu 30 (4) and Sunday 09-26 worked (1): Thursday 09-30.
    assert (deadline.date, deadline.provisional) == (D(2027, 9, 30), False)


def test_2028_stays_provisional_with_the_2027_notice(cal_2027: WorkingDayCalendar) -> None:
    due = cal_2027.add_working_days(D(2027, 12, 30), 2)
    assert (due.date, due.provisional) == (D(2028, 1, 3), True)


def test_known_years_tell_official_from_override(cal_2027: WorkingDayCalendar) -> None:
    years = cal_2027.known_years()
    assert years[2026] == "official"
    assert years[2004] == "official"
    assert years[2027] == "override"
    assert 2028 not in years
    assert list(years) == sorted(years)
    assert cal_2027.year_source(2028) == "provisional"
    assert cal_2027.notice(2027) == notice_2027()
    assert cal_2027.notice(2028) is None


def test_load_replaces_a_notice_for_the_same_year(cal_2027: WorkingDayCalendar) -> None:
    revised = raw_notice(
        holidays=[
            {"name_en": "National Day", "name_zh": "国庆节", "start": "2027-10-01", "end": "2027-10-03"}
        ],
        adjusted_workdays=[],
    )
    cal_2027.load(YearNotice.model_validate_json(json.dumps(revised)))
    assert cal_2027.add_working_days(D(2027, 9, 30), 1).date == D(2027, 10, 4)
    assert cal_2027.is_workday(D(2027, 2, 10))  # the old Spring Festival is gone


def test_a_notice_for_an_official_year_is_refused_unless_forced(cal: WorkingDayCalendar) -> None:
    data = raw_notice(
        year=2026,
        title="国务院办公厅关于2026年部分节假日安排的通知（更正）",
        holidays=[
            {"name_en": "National Day", "name_zh": "国庆节", "start": "2026-10-01", "end": "2026-10-08"}
        ],
        adjusted_workdays=[],
    )
    notice = YearNotice.model_validate_json(json.dumps(data, ensure_ascii=False))
    with pytest.raises(NoticeRefused, match="force=True"):
        cal.load(notice)
    with pytest.raises(NoticeRefused):
        WorkingDayCalendar([notice])
    assert cal.year_source(2026) == "official"
    cal.load(notice, force=True)
    assert cal.year_source(2026) == "override"
    assert cal.add_working_days(D(2026, 9, 30), 1).date == D(2026, 10, 9)
    assert cal.day(D(2026, 10, 10)).reason == "weekend"  # the forced notice has no adjusted workday
    assert WorkingDayCalendar([notice], force=True).year_source(2026) == "override"
    assert WorkingDayCalendar().year_source(2026) == "official"  # other calendars are untouched


# --------------------------------------------------------------------------------------------------
# The override file's validation


def test_the_fixture_is_a_valid_notice() -> None:
    notice = notice_2027()
    assert notice.year == 2027
    assert notice.title == "国务院办公厅关于2027年部分节假日安排的通知"
    assert len(notice.holidays) == 7
    assert notice.holidays[-1].dates()[0] == D(2027, 10, 1)
    assert notice.holidays[-1].length == 7


def test_the_invalid_fixture_reports_every_problem() -> None:
    with pytest.raises(NoticeInvalid) as info:
        parse_notice((FIXTURES / "invalid-2027.json").read_bytes(), "invalid-2027.json")
    message = str(info.value)
    assert message.startswith("invalid-2027.json is not a valid notice: ")
    assert "2027-10-07 is in two holidays: 'National Day' and 'Mid-autumn Festival'" in message
    assert "2027-10-08 is both a holiday ('Mid-autumn Festival') and an adjusted workday" in message
    assert "adjusted workday 2027-10-11 is a Monday" in message
    assert "serves '国庆', which is not a holiday of this notice" in message
    assert len(info.value.problems) == 1  # one model-level error carrying all the problems


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"year": "2027"}, "year: Input should be a valid integer"),
        ({"year": 1990}, "year: Input should be greater than or equal to 2000"),
        ({"title": "  "}, "title: String should have at least 1 character"),
        ({"holidays": []}, "a notice lists at least one holiday"),
        ({"typo": 1}, "typo: Extra inputs are not permitted"),
        (
            {"holidays": [{"name_en": "X", "name_zh": "某", "start": "2027-10-05", "end": "2027-10-01"}]},
            "holidays[0]: holiday 'X' (某) ends on 2027-10-01, before it starts on 2027-10-05",
        ),
        (
            {"holidays": [{"name_en": "X", "name_zh": "某", "start": "2027-10-01", "end": "2027-12-01"}]},
            "holidays[0]: holiday 'X' (某) lasts 62 days",
        ),
        (
            {"holidays": [{"name_en": "X", "name_zh": "某", "start": "2026-12-31", "end": "2027-01-02"}]},
            "holiday 'X' date 2026-12-31 is not in 2027",
        ),
        (
            {"holidays": [{"name_en": "X", "name_zh": "某", "start": "2027-1-1", "end": "2027-01-02"}]},
            "holidays[0].start: Input should be a valid date in the format YYYY-MM-DD",
        ),
        (
            {"holidays": [{"name_en": "", "name_zh": "某", "start": "2027-01-01", "end": "2027-01-02"}]},
            "holidays[0].name_en: String should have at least 1 character",
        ),
        ({"adjusted_workdays": [{"date": "2028-01-08"}]}, "adjusted workday 2028-01-08 is not in 2027"),
        (
            {"adjusted_workdays": [{"date": "2027-10-09"}, {"date": "2027-10-09"}]},
            "adjusted workday 2027-10-09 is listed twice",
        ),
        ({"adjusted_workdays": [{"date": "2027-10-03"}]}, "2027-10-03 is both a holiday ('National Day')"),
        ({"adjusted_workdays": [{"date": "2027-10-08"}]}, "adjusted workday 2027-10-08 is a Friday"),
        (
            {"adjusted_workdays": [{"date": "2027-10-09", "holiday": "Golden Week"}]},
            "adjusted workday 2027-10-09 serves 'Golden Week', which is not a holiday of this notice",
        ),
        ({"adjusted_workdays": [{"day": "2027-10-09"}]}, "adjusted_workdays[0].day: Extra inputs"),
    ],
)
def test_invalid_notices_are_refused_with_clear_messages(changes: dict[str, Any], expected: str) -> None:
    assert expected in problems_of(raw_notice(**changes))


def test_overlapping_holidays_are_refused() -> None:
    data = raw_notice(
        holidays=[
            {"name_en": "National Day", "name_zh": "国庆节", "start": "2027-10-01", "end": "2027-10-07"},
            {"name_en": "National Day", "name_zh": "国庆节", "start": "2027-10-01", "end": "2027-10-07"},
        ],
        adjusted_workdays=[],
    )
    assert "2027-10-01 is in two holidays" in problems_of(data)


def test_a_notice_is_immutable() -> None:
    notice = notice_2027()
    with pytest.raises(ValueError):
        notice.year = 2028  # type: ignore[misc]


def test_parse_notice_refuses_what_is_not_json() -> None:
    with pytest.raises(NoticeInvalid, match="Invalid JSON"):
        parse_notice("{not json", "broken.json")
    with pytest.raises(NoticeInvalid, match="Input should be an object"):
        parse_notice("[]", "list.json")


# --------------------------------------------------------------------------------------------------
# Properties

FIRST_OFFICIAL = D(min(OFFICIAL_YEARS), 1, 1)
starts = st.dates(min_value=FIRST_OFFICIAL - dt.timedelta(days=400), max_value=D(2030, 12, 31))
counts = st.integers(min_value=0, max_value=300)
CALENDARS = {"plain": WorkingDayCalendar()}
if 2027 not in OFFICIAL_YEARS:
    CALENDARS["with 2027 notice"] = WorkingDayCalendar([notice_2027()])
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)


@settings(deadline=None)
@given(calendars, starts, st.integers(min_value=1, max_value=300))
def test_property_due_is_a_working_day_strictly_after_start(
    cal: WorkingDayCalendar, start: dt.date, n: int
) -> None:
    due = cal.add_working_days(start, n)
    assert due.date > start
    assert cal.is_workday(due.date)


@settings(deadline=None)
@given(calendars, starts, counts)
def test_property_working_days_in_start_to_due_number_n(
    cal: WorkingDayCalendar, start: dt.date, n: int
) -> None:
    """(start, due] holds exactly n working days; skipped are exactly its non-working days."""
    due = cal.add_working_days(start, n)
    span = [start + dt.timedelta(days=i) for i in range(1, (due.date - start).days + 1)]
    assert [d.date for d in due.days] == span
    assert sum(cal.is_workday(d) for d in span) == n
    assert [d.date for d in due.skipped] == [d for d in span if not cal.is_workday(d)]
    assert due.provisional == any(cal.day(d).provisional for d in span)
    assert all(d.reason in ("weekend", "holiday") for d in due.skipped)


@settings(deadline=None)
@given(calendars, starts, counts, counts)
def test_property_adding_a_then_b_equals_adding_a_plus_b(
    cal: WorkingDayCalendar, start: dt.date, a: int, b: int
) -> None:
    first = cal.add_working_days(start, a)
    second = cal.add_working_days(first.date, b)
    both = cal.add_working_days(start, a + b)
    assert second.date == both.date
    assert (first.provisional or second.provisional) == both.provisional
    assert first.days + second.days == both.days


@settings(deadline=None)
@given(calendars, starts, counts, counts)
def test_property_more_working_days_never_end_earlier(
    cal: WorkingDayCalendar, start: dt.date, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    assert cal.add_working_days(start, low).date <= cal.add_working_days(start, high).date


@settings(deadline=None)
@given(
    calendars,
    st.datetimes(min_value=dt.datetime(2003, 1, 1), max_value=dt.datetime(2030, 12, 31)),
    st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12"]),
    counts,
)
def test_property_deadline_is_23_59_59_shanghai_of_the_due_date(
    cal: WorkingDayCalendar, moment: dt.datetime, zone: str, n: int
) -> None:
    after = moment.replace(tzinfo=ZoneInfo(zone))
    deadline = cal.deadline(after, n)
    due = cal.add_working_days(after.astimezone(SHANGHAI).date(), n)
    assert (deadline.date, deadline.provisional) == (due.date, due.provisional)
    assert deadline.at.tzinfo is SHANGHAI
    assert deadline.at.utcoffset() == dt.timedelta(hours=8)
    assert (deadline.at.date(), deadline.at.time()) == (due.date, dt.time(23, 59, 59))
    assert deadline.at > after


@settings(deadline=None)
@given(st.dates(min_value=FIRST_OFFICIAL, max_value=D(max(OFFICIAL_YEARS), 12, 31)))
def test_property_official_years_agree_with_chinesecalendar(day: dt.date) -> None:
    info = CALENDARS["plain"].day(day)
    assert info.workday == chinese_calendar.is_workday(day)
    assert not info.provisional
    _, name = chinese_calendar.get_holiday_detail(day)
    if info.reason in ("holiday", "adjusted_workday"):
        assert info.holiday_en == name
    assert (info.reason == "adjusted_workday") == (info.workday and day.weekday() >= 5)


@settings(deadline=None)
@given(st.dates(min_value=D(2027, 1, 1), max_value=D(2027, 12, 31)))
def test_property_a_notice_year_is_never_provisional(day: dt.date) -> None:
    if "with 2027 notice" not in CALENDARS:  # pragma: no cover - only after a chinesecalendar upgrade
        return
    cal = CALENDARS["with 2027 notice"]
    assert not cal.day(day).provisional
    assert CALENDARS["plain"].day(day).provisional
