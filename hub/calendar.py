"""The working-day calendar: which days count, and when "within N working days after X" ends.

Working days (工作日) are workdays in mainland China's official calendar, adjusted working weekends
(调休) included; all dates are Asia/Shanghai (DESIGN §1). The official calendar is the
``chinesecalendar`` package. The years it does not know are filled from admin-loaded State Council
notices (:class:`YearNotice`); without one a year falls back to Monday–Friday and everything computed
through it is marked ``provisional`` — never a silent guess (DESIGN §5).

Nothing here reads the clock: every moment is an argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

__all__ = [
    "END_OF_DAY",
    "HOLIDAY_NAMES_ZH",
    "MAX_HOLIDAY_DAYS",
    "OFFICIAL_YEARS",
    "SHANGHAI",
    "AdjustedWorkday",
    "DayInfo",
    "DayReason",
    "Deadline",
    "Due",
    "NoticeHoliday",
    "NoticeInvalid",
    "NoticeRefused",
    "WorkingDayCalendar",
    "YearNotice",
    "YearSource",
    "local_date",
    "parse_notice",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = dt.time(23, 59, 59)
_ONE_DAY = dt.timedelta(days=1)

DayReason = Literal["workday", "weekend", "holiday", "adjusted_workday"]
YearSource = Literal["official", "override", "provisional"]

# The years the installed chinesecalendar publishes (it checks the same min..max range itself).
_official_dates = list(chinese_calendar.holidays) + list(chinese_calendar.workdays)
OFFICIAL_YEARS: frozenset[int] = frozenset(
    range(min(d.year for d in _official_dates), max(d.year for d in _official_dates) + 1)
)
del _official_dates

# chinesecalendar names holidays in English; its own Chinese names are short forms (清明, 端午), so
# the hub keeps the names the State Council notices use.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

# No notice has ever given a holiday longer than 10 days; a longer range is almost surely a typo.
MAX_HOLIDAY_DAYS = 14

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class DayInfo:
    """One calendar day as the hub counts it.

    ``holiday_en``/``holiday_zh`` name the holiday on a holiday, and on an adjusted workday the
    holiday it makes up for (when known). ``provisional`` is true when the day's year has neither
    official data nor a loaded notice, so Monday–Friday was assumed.
    """

    date: dt.date
    workday: bool
    reason: DayReason
    holiday_en: str | None = None
    holiday_zh: str | None = None
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class Due:
    """The N-th working day after a start date, with every day walked over to reach it.

    ``days`` are the days in (start, date], in order; ``skipped`` the non-working ones among them,
    ``counted`` the working ones (their number is N). ``provisional`` is true if any of them was.
    """

    date: dt.date
    provisional: bool
    days: tuple[DayInfo, ...] = ()

    @property
    def skipped(self) -> tuple[DayInfo, ...]:
        return tuple(d for d in self.days if not d.workday)

    @property
    def counted(self) -> tuple[DayInfo, ...]:
        return tuple(d for d in self.days if d.workday)


@dataclass(frozen=True, slots=True)
class Deadline:
    """The end of "within N working days after X": ``at`` is 23:59:59 Asia/Shanghai of ``date``.

    The deadline is met by a moment ``t`` with ``t <= at``.
    """

    at: dt.datetime
    date: dt.date
    provisional: bool


# --------------------------------------------------------------------------------------------------
# The override file: the State Council's annual notice as data

_NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_STRICT = ConfigDict(strict=True, frozen=True, extra="forbid")


class NoticeHoliday(BaseModel):
    """A named holiday period of a notice, both ends included (e.g. 国庆节 10-01..10-07)."""

    model_config = _STRICT

    name_en: _NonBlank = Field(description="English name, e.g. National Day")
    name_zh: _NonBlank = Field(description="Chinese name as in the notice, e.g. 国庆节")
    start: dt.date = Field(description="first day off, YYYY-MM-DD")
    end: dt.date = Field(description="last day off, YYYY-MM-DD (inclusive)")

    @model_validator(mode="after")
    def _ordered_and_plausible(self) -> NoticeHoliday:
        if self.end < self.start:
            raise ValueError(
                f"holiday {self.name_en!r} ({self.name_zh}) ends on {self.end}, before it starts on {self.start}"
            )
        if self.length > MAX_HOLIDAY_DAYS:
            raise ValueError(
                f"holiday {self.name_en!r} ({self.name_zh}) lasts {self.length} days "
                f"({self.start}..{self.end}); more than {MAX_HOLIDAY_DAYS} is surely a typo"
            )
        return self

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.length)]


class AdjustedWorkday(BaseModel):
    """A weekend day worked to make up for a holiday (调休上班); ``holiday`` names which one."""

    model_config = _STRICT

    date: dt.date = Field(description="the Saturday or Sunday worked, YYYY-MM-DD")
    holiday: _NonBlank | None = Field(default=None, description="name_en or name_zh of the holiday it serves")


class YearNotice(BaseModel):
    """One year's holiday arrangements as published by the State Council (国务院办公厅通知).

    Loaded by an operator for a year the ``chinesecalendar`` package does not cover yet. Validated
    strictly because a wrong date here silently moves every legal deadline: all dates inside
    ``year``, ranges ordered, no overlapping holidays, no duplicate or weekday adjusted workdays, no
    day both holiday and workday, and each adjusted workday's ``holiday`` names one of the notice's.
    """

    model_config = _STRICT

    year: int = Field(ge=2000, le=2999, description="the year the notice is for")
    title: _NonBlank = Field(description="the notice's title, e.g. 国务院办公厅关于2027年部分节假日安排的通知")
    source: _NonBlank | None = Field(default=None, description="document number (文号) or address")
    holidays: tuple[NoticeHoliday, ...] = Field(
        description="holiday periods (放假), at least one", json_schema_extra={"minItems": 1}
    )
    adjusted_workdays: tuple[AdjustedWorkday, ...] = Field(default=(), description="weekend days worked (调休上班)")

    @model_validator(mode="after")
    def _consistent(self) -> YearNotice:
        problems: list[str] = []
        if not self.holidays:
            problems.append("a notice lists at least one holiday")
        seen: dict[dt.date, NoticeHoliday] = {}
        for holiday in self.holidays:
            for day in (holiday.start, holiday.end):
                if day.year != self.year:
                    problems.append(f"holiday {holiday.name_en!r} date {day} is not in {self.year}")
            for day in holiday.dates():
                other = seen.setdefault(day, holiday)
                if other is not holiday:
                    problems.append(f"{day} is in two holidays: {other.name_en!r} and {holiday.name_en!r}")
        names = {h.name_en for h in self.holidays} | {h.name_zh for h in self.holidays}
        workdays: set[dt.date] = set()
        for workday in self.adjusted_workdays:
            day = workday.date
            if day.year != self.year:
                problems.append(f"adjusted workday {day} is not in {self.year}")
            if day in workdays:
                problems.append(f"adjusted workday {day} is listed twice")
            workdays.add(day)
            if day.weekday() < 5:
                problems.append(
                    f"adjusted workday {day} is a {_WEEKDAY_NAMES[day.weekday()]}: it is a workday "
                    "already; an adjusted workday (调休上班) is a Saturday or Sunday"
                )
            if day in seen:
                problems.append(f"{day} is both a holiday ({seen[day].name_en!r}) and an adjusted workday")
            if workday.holiday is not None and workday.holiday not in names:
                problems.append(
                    f"adjusted workday {day} serves {workday.holiday!r}, which is not a holiday of this "
                    f"notice (one of: {', '.join(sorted(names))})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class NoticeInvalid(ValueError):
    """An override file that is not a valid notice; ``problems`` are "where: what" lines."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(f"{origin} is not a valid notice: " + "; ".join(problems))


class NoticeRefused(ValueError):
    """A valid notice that the calendar will not load as asked (e.g. it would replace official data)."""


def parse_notice(text: str | bytes, origin: str = "notice") -> YearNotice:
    """Read an override file's JSON, turning pydantic's errors into short "where: what" lines.

    ``origin`` (a file name, say) starts the message, so an operator knows which file to fix.
    """
    try:
        return YearNotice.model_validate_json(text)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise NoticeInvalid(origin, problems) from None


# --------------------------------------------------------------------------------------------------
# The calendar


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware moment; a naive one is refused (ValueError)."""
    if not isinstance(moment, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} refused: give it a time zone")
    return moment.astimezone(SHANGHAI).date()


def _check_date(day: dt.date) -> None:
    # A datetime is a date too; taking its date part would skip the time-zone conversion.
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"expected a date, got {type(day).__name__}; for a moment use local_date() or deadline()")


def _holiday_zh(name_en: str) -> str:
    if name_en in HOLIDAY_NAMES_ZH:
        return HOLIDAY_NAMES_ZH[name_en]
    try:  # a holiday added by a newer chinesecalendar: its own Chinese name is better than none
        return str(chinese_calendar.Holiday(name_en).chinese)
    except (ValueError, AttributeError):
        return name_en


@cache  # bounded: only dates of OFFICIAL_YEARS enter (~366 per year)
def _official_day(day: dt.date) -> DayInfo:
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    weekend = day.weekday() >= 5
    if on_holiday:
        if name is None:
            return DayInfo(day, False, "weekend")
        return DayInfo(day, False, "holiday", name, _holiday_zh(name))
    if weekend:  # a weekend day that is worked: 调休
        return DayInfo(day, True, "adjusted_workday", name, _holiday_zh(name) if name else None)
    return DayInfo(day, True, "workday")


def _plain_day(day: dt.date, provisional: bool) -> DayInfo:
    if day.weekday() >= 5:
        return DayInfo(day, False, "weekend", provisional=provisional)
    return DayInfo(day, True, "workday", provisional=provisional)


def _notice_days(notice: YearNotice) -> dict[dt.date, DayInfo]:
    """The days a notice makes special; every other day of its year is a plain weekday/weekend."""
    days: dict[dt.date, DayInfo] = {}
    by_name: dict[str, NoticeHoliday] = {}
    for holiday in notice.holidays:
        by_name.setdefault(holiday.name_en, holiday)
        by_name.setdefault(holiday.name_zh, holiday)
        for day in holiday.dates():
            days[day] = DayInfo(day, False, "holiday", holiday.name_en, holiday.name_zh)
    for workday in notice.adjusted_workdays:
        served = by_name.get(workday.holiday) if workday.holiday else None
        days[workday.date] = DayInfo(
            workday.date,
            True,
            "adjusted_workday",
            served.name_en if served else None,
            served.name_zh if served else None,
        )
    return days


class WorkingDayCalendar:
    """Working days from the official calendar, loaded notices, and Monday–Friday beyond them.

    Per-date lookups are cached (official days once per process, notice days at load), so counting
    a few hundred working days is a dictionary walk.
    """

    def __init__(self, notices: Iterable[YearNotice] = (), *, force: bool = False) -> None:
        self._notices: dict[int, YearNotice] = {}
        self._notice_days: dict[int, dict[dt.date, DayInfo]] = {}
        self._deadlines: dict[tuple[dt.date, int], Deadline] = {}  # every rating asks for its window
        for notice in notices:
            self.load(notice, force=force)

    def load(self, notice: YearNotice, force: bool = False) -> None:
        """Use ``notice`` for its year from now on, replacing any notice loaded for it before.

        A year that chinesecalendar covers is refused (NoticeRefused) unless ``force`` — the package
        is the official record, and an override of it should be a deliberate act.
        """
        if not isinstance(notice, YearNotice):
            raise TypeError(f"expected a YearNotice, got {type(notice).__name__}")
        if notice.year in OFFICIAL_YEARS and not force:
            raise NoticeRefused(
                f"the official calendar (chinesecalendar {chinese_calendar.__version__}) already covers "
                f"{notice.year}; pass force=True to override it with {notice.title!r}"
            )
        self._notices[notice.year] = notice
        self._notice_days[notice.year] = _notice_days(notice)
        self._deadlines.clear()

    def year_source(self, year: int) -> YearSource:
        """Where a year's days come from: a loaded notice, the official package, or neither."""
        if year in self._notices:
            return "override"
        if year in OFFICIAL_YEARS:
            return "official"
        return "provisional"

    def known_years(self) -> dict[int, YearSource]:
        """Every year with real data ("official" or "override"), ascending; all others are provisional."""
        years = OFFICIAL_YEARS | self._notices.keys()
        return {year: self.year_source(year) for year in sorted(years)}

    def notice(self, year: int) -> YearNotice | None:
        """The notice loaded for ``year``, if any."""
        return self._notices.get(year)

    def day(self, day: dt.date) -> DayInfo:
        """How ``day`` counts, and why."""
        _check_date(day)
        source = self.year_source(day.year)
        if source == "override":
            special = self._notice_days[day.year].get(day)
            return special if special is not None else _plain_day(day, provisional=False)
        if source == "official":
            return _official_day(day)
        return _plain_day(day, provisional=True)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (provisionally so in a year without data)."""
        return self.day(day).workday

    def add_working_days(self, start: dt.date, n: int) -> Due:
        """The N-th working day strictly after ``start`` (which itself never counts).

        ``n == 0`` gives ``start`` itself with nothing walked over: "within 0 working days" ends the
        same day, and adding a then b working days always equals adding a+b.
        """
        _check_date(start)
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be 0 or more working days, got {n}")
        if n > (dt.date.max - start).days:  # each working day takes a calendar day: fail before walking
            raise ValueError(f"{n} working days after {start} is past the last date")
        days: list[DayInfo] = []
        day = start
        counted = 0
        provisional = False
        while counted < n:
            try:
                day += _ONE_DAY
            except OverflowError:
                raise ValueError(f"{n} working days after {start} is past the last date") from None
            info = self.day(day)
            days.append(info)
            provisional = provisional or info.provisional
            if info.workday:
                counted += 1
        return Due(day, provisional, tuple(days))

    def deadline(self, after: dt.datetime, n: int) -> Deadline:
        """The end of "within N working days after ``after``" (DESIGN §1).

        ``after`` must be aware; its Asia/Shanghai calendar date is the day counting starts from.
        """
        start = local_date(after)
        cached = self._deadlines.get((start, n))
        if cached is None:
            due = self.add_working_days(start, n)
            at = dt.datetime.combine(due.date, END_OF_DAY, tzinfo=SHANGHAI)
            cached = self._deadlines[(start, n)] = Deadline(at, due.date, due.provisional)
        return cached
