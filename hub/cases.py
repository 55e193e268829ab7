"""Completed cases: the rating window (R5), the reminders (R7) and the default rating (R6).

A notice without a rating opens a window and three timers: the first reminder soon after completion,
a second one the day before the window closes, and the default rating when it has closed. Each timer
is data with a due time, so the scheduler reads only what is due. Time is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.case_notice import CaseNotice
from hub.rating import Case, EvaluationType, Grade, Rater, Rating, Source, Target, rating_id_for
from hub.rules import RatingPolicy, rating_window

QUIET_FROM = time(21, 0)  # no SMS between 21:00 and 08:00: it waits for the morning
QUIET_UNTIL = time(8, 0)
FIRST_REMINDER_DELAY = timedelta(minutes=10)
SECOND_REMINDER_AT = time(10, 0)


class TimerKind(StrEnum):
    FIRST_REMINDER = "first_reminder"
    SECOND_REMINDER = "second_reminder"
    DEFAULT_RATING = "default_rating"


@dataclass(frozen=True, slots=True)
class Timer:
    case_key: str
    kind: TimerKind
    due_at: datetime

    @property
    def timer_id(self) -> str:
        return f"{self.case_key}#{self.kind.value}"


@dataclass(frozen=True, slots=True)
class RatingWindow:
    case_key: str
    closes_at: datetime
    provisional: bool
    timers: tuple[Timer, ...]


def case_key(notice: CaseNotice) -> str:
    """One window per case and step (R8: online one rating per step; offline one per visit)."""
    return f"{notice.agency.code}/{notice.case_no}/{notice.step or '-'}"


def outside_quiet_hours(moment: datetime) -> datetime:
    """The moment itself, or the next 08:00 (Asia/Shanghai) when it falls in the quiet hours."""
    local = moment.astimezone(SHANGHAI)
    if local.time() >= QUIET_FROM:
        return datetime.combine(local.date() + timedelta(days=1), QUIET_UNTIL, tzinfo=SHANGHAI)
    if local.time() < QUIET_UNTIL:
        return datetime.combine(local.date(), QUIET_UNTIL, tzinfo=SHANGHAI)
    return moment


def open_rating_window(
    notice: CaseNotice, calendar: WorkingDayCalendar, policy: RatingPolicy | None = None
) -> RatingWindow:
    """R5: the window closes at the end of the 5th working day after the service; R7: the reminders."""
    policy = policy or RatingPolicy()
    key = case_key(notice)
    window = rating_window(notice.handled_at, calendar, policy)
    first = outside_quiet_hours(notice.handled_at + FIRST_REMINDER_DELAY)
    day_before = datetime.combine(window.date - timedelta(days=1), SECOND_REMINDER_AT, tzinfo=SHANGHAI)
    timers = [Timer(key, TimerKind.FIRST_REMINDER, first)]
    if day_before > first:
        timers.append(Timer(key, TimerKind.SECOND_REMINDER, day_before))
    timers.append(Timer(key, TimerKind.DEFAULT_RATING, window.at + timedelta(seconds=1)))
    return RatingWindow(key, window.at, window.provisional, tuple(timers))


def default_rating(notice: CaseNotice, connector_id: str, closes_at: datetime, now: datetime) -> Rating:
    """R6: 满意, marked default, for a case whose window closed without a rating.

    It shares the duplicate key of a real rating for the case (R8), so a conditional write lets
    exactly one of them win a race at the close.
    """
    source_rating_id = f"{notice.case_no}#{notice.step or '-'}#default"
    return Rating(
        rating_id=rating_id_for(connector_id, source_rating_id),
        source=Source(connector_id=connector_id, kind="default", source_rating_id=source_rating_id, received_at=now),
        case=Case(
            case_no=notice.case_no,
            service_code=notice.service.code,
            service_name=notice.service.name,
            step=notice.step,
            handled_at=notice.handled_at,
        ),
        target=Target(
            agency_code=notice.agency.code,
            agency_name=notice.agency.name,
            region_code=notice.region_code,
            staff=notice.staff,
        ),
        channel=notice.channel,
        evaluation_type=EvaluationType.DEFAULT,
        grade=Grade.SATISFIED,
        rater=Rater(type=notice.applicant.type),
        rated_at=closes_at,
    )


REMINDER_TEMPLATES = {
    TimerKind.FIRST_REMINDER: "【政务服务好差评】您办理的“{service}”（办件编号{case_no}）已办结，"
    "欢迎对本次服务进行评价：{link}。评价期限至{closes}。",
    TimerKind.SECOND_REMINDER: "【政务服务好差评】您办理的“{service}”（办件编号{case_no}）评价期限将于{closes}截止，"
    "逾期未评价将默认为“满意”：{link}",
}


def reminder_text(kind: TimerKind, notice: CaseNotice, closes_at: datetime, link: str) -> str:
    """The SMS text, in Chinese; it carries the case number and the rating link, never the name."""
    closes = closes_at.astimezone(SHANGHAI).strftime("%Y年%m月%d日")
    return REMINDER_TEMPLATES[kind].format(
        service=notice.service.name, case_no=notice.case_no, link=link, closes=closes
    )
