"""Completed cases: the rating window (R5), the reminders (R7), the default rating (R6)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.case_notice import Applicant, CaseNotice
from hub.cases import (
    TimerKind,
    default_rating,
    open_rating_window,
    outside_quiet_hours,
    reminder_phone,
    reminder_text,
    second_reminder_due,
    slot_key,
)
from hub.rating import EvaluationType, Grade
from tests.conftest import SAMPLES

CALENDAR = WorkingDayCalendar()
NOTICE = CaseNotice.model_validate(json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8")))


def timers_of(notice: CaseNotice) -> dict[TimerKind, datetime]:
    return {t.kind: t.due_at for t in open_rating_window(notice, CALENDAR).timers}


def test_sample_case_window_closes_at_the_end_of_the_5th_working_day_R5() -> None:
    window = open_rating_window(NOTICE, CALENDAR)
    assert window.closes_at.isoformat() == "2026-12-04T23:59:59+08:00"
    assert not window.provisional


def test_sample_case_gets_its_reminders_and_default_timer_R7_R6() -> None:
    timers = timers_of(NOTICE)
    assert timers[TimerKind.FIRST_REMINDER].isoformat() == "2026-11-27T16:50:00+08:00"
    assert timers[TimerKind.SECOND_REMINDER].astimezone(SHANGHAI).date().isoformat() == "2026-12-03"
    assert timers[TimerKind.DEFAULT_RATING] > datetime.fromisoformat("2026-12-04T23:59:59+08:00")


def test_a_case_completed_at_night_is_reminded_at_eight_in_the_morning_R7() -> None:
    late = NOTICE.model_copy(update={"handled_at": datetime.fromisoformat("2026-11-27T20:55:00+08:00")})
    assert timers_of(late)[TimerKind.FIRST_REMINDER].isoformat() == "2026-11-28T08:00:00+08:00"


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(SHANGHAI)))
def test_no_reminder_is_ever_due_in_quiet_hours_R7(handled_at: datetime) -> None:
    notice = NOTICE.model_copy(update={"handled_at": handled_at})
    for kind, due in timers_of(notice).items():
        local = due.astimezone(SHANGHAI).time()
        if kind is not TimerKind.DEFAULT_RATING:
            assert local.hour >= 8 and local.hour < 21, (kind, due)
    window = open_rating_window(notice, CALENDAR)
    first, *_rest, default = window.timers
    assert first.due_at >= handled_at and default.due_at > window.closes_at


def test_quiet_hours_leave_daytime_untouched() -> None:
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI)
    assert outside_quiet_hours(noon) == noon
    assert outside_quiet_hours(noon.replace(hour=3)) == noon.replace(hour=8)


def test_a_2027_window_is_provisional() -> None:
    notice = NOTICE.model_copy(update={"handled_at": datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI)})
    assert open_rating_window(notice, CALENDAR).provisional


def test_default_rating_is_satisfied_marked_default_and_shares_the_real_ratings_slot_R6_R8() -> None:
    window = open_rating_window(NOTICE, CALENDAR)
    rating = default_rating(NOTICE, "business-system", window.closes_at, window.closes_at + timedelta(seconds=1))
    assert (rating.grade, rating.evaluation_type) == (Grade.SATISFIED, EvaluationType.DEFAULT)
    assert rating.rated_at == window.closes_at
    assert rating.duplicate_key == f"{NOTICE.agency.code}/{NOTICE.case_no}/-/first"
    assert rating.rater.phone is None  # the default carries no personal data


def test_reminder_text_carries_the_case_number_and_link_but_not_the_name_R20() -> None:
    window = open_rating_window(NOTICE, CALENDAR)
    text = reminder_text(TimerKind.SECOND_REMINDER, NOTICE, window.closes_at, "https://rate.example/c")
    assert NOTICE.case_no in text and "https://rate.example/c" in text and "2026年12月04日" in text
    assert NOTICE.applicant.name not in text and NOTICE.applicant.phone not in text


def test_the_case_slot_is_the_default_ratings_duplicate_key_R6_R8() -> None:
    window = open_rating_window(NOTICE, CALENDAR)
    assert slot_key(NOTICE) == default_rating(NOTICE, "c", window.closes_at, window.closes_at).duplicate_key


def test_a_window_into_an_unknown_year_names_that_year_for_its_recompute() -> None:
    crossing = NOTICE.model_copy(update={"handled_at": datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)})
    inside = NOTICE.model_copy(update={"handled_at": datetime(2026, 12, 21, 10, 0, tzinfo=SHANGHAI)})

    assert open_rating_window(crossing, CALENDAR).provisional_year == 2027
    assert open_rating_window(inside, CALENDAR).provisional_year is None


@pytest.mark.parametrize(("phone", "expected"), [
    ("13907970004", ("13907970004", None)), ("+86 139-0797-0004", ("13907970004", None)),
    ("0797-8123456", (None, "PHONE_NOT_MOBILE")), (None, (None, "NO_PHONE")),
])  # fmt: skip
def test_only_a_mainland_mobile_is_reminded_R7(phone: str | None, expected: tuple[str | None, str | None]) -> None:
    assert reminder_phone(Applicant(phone=phone)) == expected


def test_the_second_reminder_is_the_morning_before_the_close_R7() -> None:
    assert second_reminder_due(datetime.fromisoformat("2026-12-04T23:59:59+08:00")).isoformat() == (
        "2026-12-03T10:00:00+08:00"
    )
