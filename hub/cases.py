"""Completed cases: the rating window (R5), the reminders (R7) and the default rating (R6).

A notice without a rating opens a window and three timers: the first reminder soon after completion,
a second one the day before the window closes, and the default rating when it has closed. Each timer
is data with a due time, so the scheduler reads only what is due. Time is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from hub.calendar import SHANGHAI, WorkingDayCalendar, local_date
from hub.case_notice import Applicant, CaseNotice
from hub.codes import CodeError, check_mobile
from hub.errors import Problem, duration_en, duration_zh, problem
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
    provisional_year: int | None = None  # the first year counted as Monday–Friday for want of a calendar


def case_key(notice: CaseNotice) -> str:
    """One window per case and step (R8: online one rating per step; offline one per visit)."""
    return f"{notice.agency.code}/{notice.case_no}/{notice.step or '-'}"


def slot_key(notice: CaseNotice) -> str:
    """The duplicate key of the case's first rating, real or default (R8, R6): who holds it closed the case."""
    return f"{case_key(notice)}/first"


def first_reminder_due(notice: CaseNotice) -> datetime:
    """R7: soon after completion, outside the quiet hours."""
    return outside_quiet_hours(notice.handled_at + FIRST_REMINDER_DELAY)


def second_reminder_due(closes_at: datetime) -> datetime:
    """R7: the day before the window closes, in the morning."""
    day = closes_at.astimezone(SHANGHAI).date() - timedelta(days=1)
    return datetime.combine(day, SECOND_REMINDER_AT, tzinfo=SHANGHAI)


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
    first = first_reminder_due(notice)
    day_before = second_reminder_due(window.at)
    timers = [Timer(key, TimerKind.FIRST_REMINDER, first)]
    if day_before > first:
        timers.append(Timer(key, TimerKind.SECOND_REMINDER, day_before))
    timers.append(Timer(key, TimerKind.DEFAULT_RATING, window.at + timedelta(seconds=1)))
    year = _first_provisional_year(notice.handled_at, window.date, calendar) if window.provisional else None
    return RatingWindow(key, window.at, window.provisional, tuple(timers), year)


def _first_provisional_year(handled_at: datetime, closes_on: date, calendar: WorkingDayCalendar) -> int | None:
    """The days counted are those after the handling day up to the closing day; their first unknown year."""
    first_counted = local_date(handled_at) + timedelta(days=1)
    for year in range(first_counted.year, closes_on.year + 1):
        if calendar.year_source(year) == "provisional":
            return year
    return None


def check_handled_at(notice: CaseNotice, now: datetime, policy: RatingPolicy | None = None) -> list[Problem]:
    """A case is completed in the past: a handling time ahead of the hub's clock is a source's clock or typo."""
    policy = policy or RatingPolicy()
    if notice.handled_at > now + policy.clock_skew:
        ahead = notice.handled_at - now
        return [problem("HANDLED_IN_FUTURE", "handled_at", f"{duration_en(ahead)} ahead of the hub's clock",
                        detail_zh=f"超前 {duration_zh(ahead)}")]  # fmt: skip
    return []


def reminder_phone(applicant: Applicant) -> tuple[str | None, str | None]:
    """(the mobile to remind, None) or (None, why not): NO_PHONE or PHONE_NOT_MOBILE (R7)."""
    if not applicant.phone:
        return None, "NO_PHONE"
    try:
        return check_mobile(applicant.phone), None
    except CodeError:
        return None, "PHONE_NOT_MOBILE"


def embedded_rating(notice: CaseNotice, connector_id: str, received_at: datetime) -> Rating:
    """The rating a notice carries (第十五条), as a rating of its own: same store, same forwarding.

    Its source id is the case slot and round, so the same notice posted again is a duplicate. The rater
    is the applicant; a phone that is not a mobile is left out of the rating (it would be refused there,
    and losing a citizen's rating over a contact field is worse). Raises pydantic's ValidationError.
    """
    assert notice.rating is not None
    embedded = notice.rating
    source_rating_id = f"{notice.case_no}#{notice.step or '-'}#{embedded.evaluation_type.value}"
    phone, _ = reminder_phone(notice.applicant)
    return Rating.model_validate(
        {
            "rating_id": rating_id_for(connector_id, source_rating_id),
            "source": {
                "connector_id": connector_id,
                "kind": "case_notice",
                "source_rating_id": source_rating_id,
                "received_at": received_at,
            },
            "case": _case(notice),
            "target": _target(notice),
            "channel": notice.channel,
            "evaluation_type": embedded.evaluation_type,
            "grade": embedded.grade,
            "staff_grade": embedded.staff_grade,
            "tags": embedded.tags,
            "comment": embedded.comment,
            "rater": {
                "type": notice.applicant.type,
                "name": notice.applicant.name,
                "phone": phone,
                "id_no": notice.applicant.id_no,
                "real_name": embedded.real_name,
            },
            "rated_at": embedded.rated_at,
        }
    )


def _case(notice: CaseNotice) -> Case:
    return Case(
        case_no=notice.case_no,
        service_code=notice.service.code,
        service_name=notice.service.name,
        step=notice.step,
        handled_at=notice.handled_at,
    )


def _target(notice: CaseNotice) -> Target:
    return Target(
        agency_code=notice.agency.code,
        agency_name=notice.agency.name,
        region_code=notice.region_code,
        staff=notice.staff,
    )


def default_rating(notice: CaseNotice, connector_id: str, closes_at: datetime, now: datetime) -> Rating:
    """R6: 满意, marked default, for a case whose window closed without a rating.

    It shares the duplicate key of a real rating for the case (R8), so a conditional write lets
    exactly one of them win a race at the close.
    """
    source_rating_id = f"{notice.case_no}#{notice.step or '-'}#default"
    return Rating(
        rating_id=rating_id_for(connector_id, source_rating_id),
        source=Source(connector_id=connector_id, kind="default", source_rating_id=source_rating_id, received_at=now),
        case=_case(notice),
        target=_target(notice),
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
